"""Checks of coalesced file records (bpf/fxco.bpf.h), shared by
tests/host/journal.sh and tests/vm/journal.sh: a journal of a python3 -c
loop that opened files for writing, and forked one child that did too."""
import json


def load(path):
    """The records, the file records, the loop's pid and its child's."""
    recs = [json.loads(l) for l in open(path)]
    files = [r for r in recs if r["type"] == "file"]
    py = [r for r in recs if r["type"] == "exec" and r["argv"][:2] == ["/usr/bin/python3", "-c"]][0]["pid"]
    child = [r for r in recs if r["type"] == "fork" and r["pid"] == py][0]["child"]
    return recs, files, py, child


def opens(files, path, pid):
    """How many opens of path by pid the records count (one first record,
    the coalesced ones naming it), and the coalesced members."""
    rs = [r for r in files if r["path"] == path and r["pid"] == pid and "open" in r["op"]]
    firsts = [r for r in rs if "coalesced" not in r]
    co = [r["coalesced"] for r in rs if "coalesced" in r]
    assert len(firsts) == 1, (path, pid, firsts)
    assert all(c["of"] == firsts[0]["seq"] and c["count"] > 0 for c in co), (co, firsts)
    return 1 + sum(c["count"] for c in co), co


def effects(files, end):
    """The file effects the records count; end (fence_end) counts the
    coalesced records and the journal stays small."""
    assert end["coalesced"] == sum(1 for r in files if "coalesced" in r), end
    assert len(files) < 100, len(files)
    return sum(r["coalesced"]["count"] if "coalesced" in r else 1 for r in files)
