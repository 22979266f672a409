// Sortable, filterable tables: click a header to sort (numeric for data-type="num"), type to filter.
(function () {
  "use strict";

  function cellValue(row, index, numeric) {
    var text = row.cells[index] ? row.cells[index].textContent.trim() : "";
    if (!numeric) { return text.toLowerCase(); }
    if (text === "inf") { return Infinity; }
    if (text === "-inf") { return -Infinity; }
    var value = parseFloat(text);
    return isNaN(value) ? null : value;
  }

  function compare(a, b, ascending) {
    if (a === b) { return 0; }
    if (a === null) { return 1; }   // empty cells last in either direction
    if (b === null) { return -1; }
    var order = a < b ? -1 : 1;
    return ascending ? order : -order;
  }

  function sortBy(table, header) {
    var index = header.cellIndex;
    var numeric = header.getAttribute("data-type") === "num";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var keyed = Array.prototype.map.call(body.rows, function (row, position) {
      return { row: row, key: cellValue(row, index, numeric), position: position };
    });
    keyed.sort(function (a, b) {
      return compare(a.key, b.key, ascending) || a.position - b.position;
    });
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (item) { fragment.appendChild(item.row); });
    body.appendChild(fragment);
    Array.prototype.forEach.call(header.parentNode.cells, function (cell) { cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  function showCount(table) {
    var label = document.querySelector('[data-count-for="' + table.id + '"]');
    if (!label) { return; }
    var rows = table.tBodies[0].rows;
    var shown = Array.prototype.filter.call(rows, function (row) { return !row.hidden; }).length;
    label.textContent = shown + " of " + rows.length + " rows";
  }

  function filterRows(table, text) {
    var needle = text.trim().toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) === -1;
    });
    showCount(table);
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header) {
      header.tabIndex = 0;
      header.title = "sort by this column";
      header.addEventListener("click", function () { sortBy(table, header); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, header); }
      });
    });
    showCount(table);
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    if (table) { input.addEventListener("input", function () { filterRows(table, input.value); }); }
  });
}());
