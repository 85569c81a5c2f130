"""Write allocation_log_v1.jsonl (and its head, and what that effekt read from it in allocation_log_v1.json): a log in the layout effekt wrote before draw records
held their units as columns (``"units": [[id, arm], ...]``, ``"excluded": [[id, reason], ...]``).

It must be run with the effekt of that layout (commit 477a9f7 of this repository, or any release
before the columnar layout), e.g.::

    git archive 477a9f7 src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src python tests/data/make_log_v1.py

Never regenerate it with a later effekt: the test reads it as an old log.
"""

from __future__ import annotations

import json
from pathlib import Path

from effekt.design.lottery import BatchLottery

HERE = Path(__file__).parent


def main() -> None:
    path = HERE / "allocation_log_v1.jsonl"
    for p in (path, Path(str(path) + ".head"), Path(str(path) + ".lock")):
        p.unlink(missing_ok=True)
    lot = BatchLottery(path, seed=2017, odd="alternate", capacity={"treatment": 6},
                       exclude={"aged under 30": lambda u: u["age"] < 30})
    lot.draw({"id": [1, 2, 3, 4, 5], "age": [40, 25, 33, 51, 38]}, batch="b1", date="2017-01-16")
    lot.draw({"id": ["3", "06", "7", "8", "9", "10", "11"], "age": [33, 45, 29, 60, 41, 35, 44]}, batch="b2",
             date="2017-02-01")
    lot.withdraw([4], reason="moved away")
    lot.draw({"id": [12, 13, 14, 15], "age": [31, 32, 33, 34]}, batch="b3", date="2017-03-01", top_up=True)
    again = BatchLottery(path, seed=2017, odd="alternate", capacity={"treatment": 6},
                         exclude={"aged under 30": lambda u: u["age"] < 30})
    expected = {
        "allocations": again.allocations().drop(columns=["time"]).astype({"id": str}).to_dict(orient="list"),
        "exclusions": again.exclusions().astype({"id": str}).to_dict(orient="list"),
        "table": again.allocation_table().to_dict(orient="list"),
        "places_left": again.places_left(),
    }
    (HERE / "allocation_log_v1.json").write_text(json.dumps(expected, indent=1, default=str) + "\n")
    Path(str(path) + ".lock").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
