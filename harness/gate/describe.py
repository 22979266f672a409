"""What a comparison says, as terminal lines and as Markdown: one wording for the session's
summary, ``leakage compare`` and the CI step summary."""

from __future__ import annotations

from harness.gate.aggregate import GroupVerdict
from harness.gate.comparison import Comparison
from harness.gate.stats import CONFIDENCE, RESAMPLES

__all__ = ["comparison_lines", "comparison_markdown", "headline", "seed_note", "AGGREGATE_TITLE"]

_SHOWN = 25  # failing comparisons listed in full; the rest are counted (all are in .obtained.json)
AGGREGATE_TITLE = (f"aggregate per (experiment, strength): mean change over images x seeds, bootstrap "
                   f"{CONFIDENCE:.0%} interval ({RESAMPLES} resamples of the cases)")


def headline(cmp: Comparison) -> str:
    """``baseline 'x' (path): FAILED, 4 cases compared, 1 worse beyond tolerance, ...``."""
    verdict = "FAILED" if cmp.failed else "passed"
    groups = {v.group for v in cmp.aggregate}
    worse = {v.group for v in cmp.aggregate_failures}
    where = "" if str(cmp.path) == cmp.name else f" ({cmp.path})"
    return (f"baseline {cmp.name!r}{where}: {verdict}, {cmp.compared} cases compared, "
            f"{len(cmp.regressions)} worse beyond tolerance, {len(cmp.improvements)} better; "
            f"aggregate: {len(worse)} of {len(groups)} groups worse")


def seed_note(cmp: Comparison) -> str | None:
    """Why some cases have no per-case verdict, when that is so."""
    if not cmp.unmatched:
        return None
    base, now = cmp.seeds
    return (f"per-case verdicts are impossible for {len(cmp.unmatched)} cases: the baseline holds seeds "
            f"{_seeds(base)}, this run measured {_seeds(now)}; the aggregate decides for them")


def comparison_lines(cmp: Comparison, shown: int = _SHOWN) -> list[str]:
    """The terminal's account of a comparison: verdict, failing cases, the aggregate table,
    what changed in the fingerprint and machine, new and gone cases."""
    lines = [headline(cmp)]
    lines.extend(f"FAILED: {p}" for p in cmp.problems)
    if cmp.regressions:
        width = max(len(d.key) for d in cmp.regressions[:shown])
        lines.append(f"  {'case':<{width}}  {'metric':<15} {'baseline':>10} {'now':>10} {'change':>9}  tolerance")
        for d in cmp.regressions[:shown]:
            rel = f"{d.relative:+.1%}" if d.relative is not None else "n/a"
            lines.append(f"  {d.key:<{width}}  {d.metric:<15} {d.baseline:>10.4g} {d.current:>10.4g} "
                         f"{rel:>9}  {d.tolerance.describe()}")
        if len(cmp.regressions) > shown:
            lines.append(f"  ... and {len(cmp.regressions) - shown} more")
    note = seed_note(cmp)
    if note:
        lines.append(note)
    lines.extend(_aggregate_lines(cmp.aggregate))
    if cmp.fingerprint_changes:
        lines.append("fingerprint differs from the baseline's: " + "; ".join(cmp.fingerprint_changes))
    if cmp.machine_changes:
        lines.append("machine differs from the baseline's: " + "; ".join(cmp.machine_changes))
    lines.extend(_new_and_gone(cmp))
    return lines


def _aggregate_rows(verdicts: list[GroupVerdict]) -> list[GroupVerdict]:
    """``mse_outside`` (the leakage) of every group, other metrics where outside their limit."""
    return [v for v in verdicts if v.metric == "mse_outside" or v.verdict != "within"]


def _aggregate_lines(verdicts: list[GroupVerdict]) -> list[str]:
    if not verdicts:
        return []
    rows = _aggregate_rows(verdicts)
    width = max([len(v.label) for v in rows] + [5])
    lines = [AGGREGATE_TITLE,
             f"  {'group':<{width}}  {'metric':<15} {'n':>4} {'change':>8}  {'95% interval':<20} {'limit':>6}  verdict"]
    for v in rows:
        interval = f"[{v.describe_change(v.interval.low)}, {v.describe_change(v.interval.high)}]"
        verdict = "WORSE" if v.verdict == "worse" else v.verdict
        lines.append(f"  {v.label:<{width}}  {v.metric:<15} {v.n:>4} {v.describe_change(v.interval.estimate):>8}  "
                     f"{interval:<20} {v.describe_limit():>6}  {verdict}")
    hidden = len(verdicts) - len(rows)
    if hidden:
        lines.append(f"  ({hidden} more rows of other metrics, all within their limits: in the report and "
                     "`leakage compare --json`)")
    return lines


def _new_and_gone(cmp: Comparison) -> list[str]:
    lines = []
    if cmp.unused:
        seeds = sorted({seed for key in cmp.unused if (seed := _seed_of(key)) is not None})
        lines.append(f"not measured in this run: the baseline's seeds {_seeds(seeds)} of the cases measured now "
                     f"({len(cmp.unused)} cases)")
    for label, keys in (("new since the baseline", cmp.new), ("in the baseline but not measured now", cmp.gone)):
        if keys:
            shown = ", ".join(keys[:8]) + (f", ... ({len(keys) - 8} more)" if len(keys) > 8 else "")
            lines.append(f"{len(keys)} cases {label}: {shown}")
    return lines


def _seed_of(key: str) -> int | None:
    _, sep, seed = key.rpartition("-seed")
    return int(seed) if sep and seed.isdigit() else None


def _seeds(seeds: list[int]) -> str:
    if not seeds:
        return "none"
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def comparison_markdown(cmp: Comparison, shown: int = _SHOWN) -> str:
    """The comparison as GitHub-flavoured Markdown: headline, failing cases, aggregate table."""
    parts = [f"**{'❌' if cmp.failed else '✅'} {_escape(headline(cmp))}**", ""]
    parts.extend(f"- FAILED: {_escape(p)}" for p in cmp.problems)
    if cmp.regressions:
        parts += ["| case | metric | baseline | now | change | tolerance |", "| --- | --- | ---: | ---: | ---: | --- |"]
        for d in cmp.regressions[:shown]:
            rel = f"{d.relative:+.1%}" if d.relative is not None else "n/a"
            parts.append(f"| `{d.key}` | {d.metric} | {d.baseline:.4g} | {d.current:.4g} | {rel} | "
                         f"{_escape(d.tolerance.describe())} |")
        if len(cmp.regressions) > shown:
            parts.append(f"\n… and {len(cmp.regressions) - shown} more")
        parts.append("")
    note = seed_note(cmp)
    if note:
        parts += [_escape(note), ""]
    if cmp.aggregate:
        parts += [_escape(AGGREGATE_TITLE), "", "| group | metric | n | change | 95% interval | limit | verdict |",
                  "| --- | --- | ---: | ---: | --- | ---: | --- |"]
        for v in _aggregate_rows(cmp.aggregate):
            verdict = "**worse**" if v.verdict == "worse" else v.verdict
            parts.append(f"| {v.label} | {v.metric} | {v.n} | {v.describe_change(v.interval.estimate)} | "
                         f"[{v.describe_change(v.interval.low)}, {v.describe_change(v.interval.high)}] | "
                         f"{v.describe_limit()} | {verdict} |")
        parts.append("")
    for title, changes in (("Fingerprint changes", cmp.fingerprint_changes), ("Machine changes", cmp.machine_changes)):
        if changes:
            parts.append(f"{title}: " + "; ".join(f"`{c}`" for c in changes))
    return "\n".join(parts).rstrip() + "\n"


def _escape(text: str) -> str:
    """Text safe inside a Markdown table cell or line (pipes would split cells)."""
    return str(text).replace("|", "\\|")
