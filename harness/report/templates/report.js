// Sortable, filterable tables (click a header to sort, numeric for data-type="num"; type to filter),
// a CSV download of the table of cases, and tiles that enlarge on click.
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

  // CSV of a table's shown rows, as displayed; headers are the columns' keys.
  function csvField(text) {
    return /[",\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function tableCsv(table) {
    var header = Array.prototype.map.call(table.tHead.rows[0].cells, function (cell) {
      return csvField(cell.getAttribute("data-key") || cell.textContent.trim());
    });
    var lines = [header.join(",")];
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      if (row.hidden) { return; }
      lines.push(Array.prototype.map.call(row.cells, function (cell) {
        var text = cell.textContent.trim();
        return csvField(text === "–" ? "" : text);
      }).join(","));
    });
    return lines.join("\n") + "\n";
  }

  document.querySelectorAll("button.csv").forEach(function (button) {
    var table = document.getElementById(button.getAttribute("data-table"));
    if (!table) { return; }
    button.addEventListener("click", function () {
      // a Blob made here and saved with a download link: nothing is fetched
      var url = URL.createObjectURL(new Blob([tableCsv(table)], { type: "text/csv" }));
      var link = document.createElement("a");
      link.href = url;
      link.download = button.getAttribute("data-file") || "leakage.csv";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
  });

  // Tiles enlarge on click (or Enter), pixels kept sharp; a click or Escape closes.
  var box = document.createElement("div");
  box.id = "lightbox";
  box.hidden = true;
  box.setAttribute("role", "dialog");
  box.appendChild(document.createElement("p"));
  document.body.appendChild(box);
  function closeBox() { box.hidden = true; }
  function openBox(image) {
    var big = box.querySelector("img");
    if (!big) {  // made on first use: an image without a source would count as broken
      big = document.createElement("img");
      box.insertBefore(big, box.firstChild);
    }
    big.src = image.src;
    big.alt = image.alt;
    box.style.setProperty("--aspect", (image.naturalWidth / image.naturalHeight) || 1);
    box.querySelector("p").textContent = image.alt;
    box.hidden = false;
  }
  box.addEventListener("click", closeBox);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") { closeBox(); } });
  document.querySelectorAll("img.zoom").forEach(function (image) {
    image.addEventListener("click", function () { openBox(image); });
    image.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); openBox(image); }
    });
  });

  window.leakageReport = { tableCsv: tableCsv, openBox: openBox };
}());
