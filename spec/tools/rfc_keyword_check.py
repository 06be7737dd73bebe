#!/usr/bin/env python3
"""Completeness check of a requirement catalogue against its RFC text.

Usage:
    python3 spec/tools/rfc_keyword_check.py RFC_TEXT CATALOGUE_YAML [--verbose] [MACHINE_YAML ...]
    e.g. python3 spec/tools/rfc_keyword_check.py /work/shared/reference/rfc7016.txt \
             spec/requirements/rfc7016.yaml spec/state-machines/*.yaml

What it checks (a throwaway-quality helper for catalogue authors; the project's real
tooling lives in Rust):
  * every RFC 2119 keyword occurrence in each numbered section of the RFC (page headers
    and footers stripped, the boilerplate "key words" paragraph skipped) is matched by at
    least as many catalogue entries of that section with that level ("REQUIRES" counts as
    REQUIRED; "MUST NOT" etc. count once, not as "MUST" plus "NOT");
  * ids are unique, follow spec/README.md, name their own section, and use letters
    a, b, ..., z, aa, ab, ... in order without holes;
  * level, role and observable take the documented values and every field is present;
  * each state machine given (schema in spec/state-machines/*.yaml) names only its own states,
    has a creating transition from "none" for every initial state, reaches every state, and
    cites only requirement ids that exist in the catalogue (ids of the other RFC are skipped).
Prints counts by section, level, observability and role; exits 1 on any failure.
Needs PyYAML.
"""
import collections
import re
import sys

import yaml

KEYWORD = re.compile(
    r"\b(MUST NOT|SHALL NOT|SHOULD NOT|NOT RECOMMENDED|MUST|REQUIRED|REQUIRES|SHALL|SHOULD|"
    r"RECOMMENDED|MAY|OPTIONAL)\b"
)
LEVELS = {"MUST", "MUST NOT", "REQUIRED", "SHALL", "SHALL NOT", "SHOULD", "SHOULD NOT",
          "RECOMMENDED", "NOT RECOMMENDED", "MAY", "OPTIONAL", "PROCEDURE"}
ROLES = {"initiator", "responder", "forwarder", "redirector", "sender", "receiver", "any"}
OBSERVABLE = {"wire", "timing", "statistical", "hook", "none"}
FIELDS = ["id", "section", "level", "role", "statement", "observable", "how", "tests"]
ID_RE = re.compile(r"^(7016|7425)-([1-9][0-9]*|A)(\.[0-9]+)*-[a-z]{1,2}$")
HEADING = re.compile(r"^(?:Appendix )?((?:[0-9]+|[A-Z])(?:\.[0-9]+)*)\.\s+\S")


def sections(path):
    """Section number -> body text (whitespace collapsed), in document order."""
    out = collections.OrderedDict()
    current = None
    for line in open(path, encoding="utf-8").read().split("\n"):
        line = line.replace("\f", "")
        if re.match(r"^\S.*\[Page \d+\]$", line) or re.match(r"^RFC \d+ .*\d{4}$", line):
            continue
        if line.startswith("Author's Address") or line.startswith("Authors' Addresses"):
            current = None
            continue
        m = HEADING.match(line)
        if m:
            current = m.group(1)
            out[current] = []
            continue
        if current is not None:
            out[current].append(line)
    return collections.OrderedDict((k, re.sub(r"\s+", " ", " ".join(v))) for k, v in out.items())


def letters(i):
    """0 -> a, 25 -> z, 26 -> aa, ..."""
    abc = "abcdefghijklmnopqrstuvwxyz"
    return abc[i] if i < 26 else abc[i // 26 - 1] + abc[i % 26]


def check_machine(path, ids, rfc, errors):
    """Structural checks of one state machine file; returns (states, transitions)."""
    m = yaml.safe_load(open(path, encoding="utf-8"))
    name = m.get("machine", path)
    for f in ("machine", "rfc", "section", "figure", "states", "initial", "final", "transitions"):
        if f not in m:
            errors.append(f"{name}: missing field {f}")
    states = [s["name"] for s in m.get("states", [])]
    if len(set(states)) != len(states):
        errors.append(f"{name}: duplicate state names")
    for s in m.get("states", []):
        if s.get("kind") not in ("opening", "open", "closing", "closed"):
            errors.append(f"{name}: state {s.get('name')}: bad kind {s.get('kind')!r}")
        if not s.get("summary"):
            errors.append(f"{name}: state {s.get('name')}: no summary")
    for s in m.get("initial", []) + m.get("final", []):
        if s not in states:
            errors.append(f"{name}: initial/final state {s} is not a state")
    reach = set()
    for t in m.get("transitions", []):
        for f in ("from", "to", "event", "section", "timer", "requirements"):
            if f not in t:
                errors.append(f"{name}: transition {t.get('from')}->{t.get('to')}: missing {f}")
        if t.get("from") != "none" and t.get("from") not in states:
            errors.append(f"{name}: transition from unknown state {t.get('from')}")
        if t.get("to") not in states:
            errors.append(f"{name}: transition to unknown state {t.get('to')}")
        if t.get("from") == "none":
            reach.add(t.get("to"))
            if t.get("to") not in m.get("initial", []):
                errors.append(f"{name}: creating transition into non-initial state {t.get('to')}")
        for r in t.get("requirements", []):
            if r.startswith(f"{rfc}-") and r not in ids:
                errors.append(f"{name}: {t.get('from')}->{t.get('to')}: unknown requirement {r}")
    for s in m.get("initial", []):
        if s not in reach:
            errors.append(f"{name}: initial state {s} has no creating transition from none")
    changed = True
    while changed:
        changed = False
        for t in m.get("transitions", []):
            if t.get("from") in reach and t.get("to") not in reach:
                reach.add(t.get("to"))
                changed = True
    for s in states:
        if s not in reach:
            errors.append(f"{name}: state {s} is unreachable")
        if s not in m.get("final", []) and not any(
            t.get("from") == s and t.get("to") != s for t in m.get("transitions", [])
        ):
            errors.append(f"{name}: non-final state {s} has no way out")
    return len(states), len(m.get("transitions", []))


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    verbose = "--verbose" in argv
    machines = [a for a in argv[3:] if a != "--verbose"]
    text = sections(argv[1])
    doc = yaml.safe_load(open(argv[2], encoding="utf-8"))
    reqs = doc["requirements"]
    errors = []

    # Keyword occurrences per section and level.
    occurrences = collections.OrderedDict()
    for sec, body in text.items():
        if 'The key words "MUST"' in body:
            continue  # RFC 2119 boilerplate, not a requirement
        found = [("REQUIRED" if k == "REQUIRES" else k) for k in KEYWORD.findall(body)]
        if found:
            occurrences[sec] = collections.Counter(found)

    # Structural checks.
    seen = set()
    per_section = collections.defaultdict(list)
    for r in reqs:
        rid = r.get("id", "?")
        for f in FIELDS:
            if f not in r:
                errors.append(f"{rid}: missing field {f}")
        if not ID_RE.match(rid):
            errors.append(f"{rid}: id does not match {ID_RE.pattern}")
        if rid in seen:
            errors.append(f"{rid}: duplicate id")
        seen.add(rid)
        sec = r.get("section")
        if not rid.startswith(f"{doc['rfc']}-{sec}-"):
            errors.append(f"{rid}: id does not name its section {sec!r}")
        if sec not in text:
            errors.append(f"{rid}: section {sec!r} is not a section of the RFC")
        if r.get("level") not in LEVELS:
            errors.append(f"{rid}: bad level {r.get('level')!r}")
        if r.get("role") not in ROLES:
            errors.append(f"{rid}: bad role {r.get('role')!r}")
        if r.get("observable") not in OBSERVABLE:
            errors.append(f"{rid}: bad observable {r.get('observable')!r}")
        per_section[sec].append(r)
    for sec, rs in per_section.items():
        for i, r in enumerate(rs):
            want = f"{doc['rfc']}-{sec}-{letters(i)}"
            if r["id"] != want:
                errors.append(f"{r['id']}: expected {want} (letters in order, no holes)")

    # Completeness: entries per section and level >= keyword occurrences.
    print(f"{'section':<12} {'keywords':>8} {'kw entries':>10} {'procedure':>9}  status")
    for sec in text:
        occ = occurrences.get(sec, collections.Counter())
        have = collections.Counter(r["level"] for r in per_section.get(sec, []))
        short = {lvl: n - have[lvl] for lvl, n in occ.items() if have[lvl] < n}
        kw_entries = sum(n for lvl, n in have.items() if lvl != "PROCEDURE")
        status = "ok" if not short else f"MISSING {short}"
        if short:
            errors.append(f"section {sec}: fewer entries than keywords: {short}")
        if occ or have or verbose:
            print(f"{sec:<12} {sum(occ.values()):>8} {kw_entries:>10} {have['PROCEDURE']:>9}  {status}")

    ids = {r.get("id") for r in reqs}
    for path in machines:
        n_states, n_trans = check_machine(path, ids, doc["rfc"], errors)
        print(f"state machine {path}: {n_states} states, {n_trans} transitions")

    total_kw = sum(sum(c.values()) for c in occurrences.values())
    print(f"\nkeyword occurrences: {total_kw}; entries: {len(reqs)}")
    for name in ("level", "observable", "role"):
        c = collections.Counter(r.get(name) for r in reqs)
        print(f"by {name}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])))
    if errors:
        print("\nFAILED:")
        for e in errors:
            print("  " + e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
