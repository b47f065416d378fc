"""What every suite's summarize.py shares: reading the round lines of both sides, medians, and
printing one summary line per figure ({"suite", "figure", "unit", "ours", "peer", "ratio", "goal"})."""
import json
import statistics


def read_rounds(lines):
    """The round records of Offload's side and of the peer's, in order."""
    ours, peer = [], []
    for line in lines:
        record = json.loads(line)
        (ours if record.get("side") == "offload" else peer).append(record)
    return ours, peer


def median(records, key):
    return statistics.median(record[key] for record in records)


def printer(suite):
    """A function printing one summary line of `suite`."""
    def summary(figure, unit, value, peer_value, ratio, goal):
        print(json.dumps({"suite": suite, "figure": figure, "unit": unit, "ours": round(value, 3),
                          "peer": None if peer_value is None else round(peer_value, 3),
                          "ratio": None if ratio is None else round(ratio, 3), "goal": goal}, ensure_ascii=False))
    return summary
