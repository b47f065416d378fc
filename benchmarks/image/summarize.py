"""The image suite's summaries: medians over rounds and the ratios the goals are stated in."""
import json
import statistics
import sys

ours, peer = [], []
for line in sys.stdin:
    record = json.loads(line)
    (ours if record.get("side") == "offload" else peer).append(record)


def median(records, key):
    return statistics.median(record[key] for record in records)


def summary(figure, unit, value, peer_value, ratio, goal):
    print(json.dumps({"suite": "image", "figure": figure, "unit": unit, "ours": round(value, 3),
                      "peer": None if peer_value is None else round(peer_value, 3),
                      "ratio": None if ratio is None else round(ratio, 3), "goal": goal}, ensure_ascii=False))


png, jpeg = median(ours, "pngMsP50"), median(ours, "jpegMsP50")
pillow_png, pillow_jpeg, resvg = median(peer, "pillowPngMsP50"), median(peer, "pillowJpegMsP50"), median(peer, "resvgCliPngMsP50")
summary("PNG render + encode, CPU ms p50, one worker ÷ Pillow", "ms", png, pillow_png, png / pillow_png, "<= 0.4")
summary("PNG render + encode, CPU ms p50, one worker ÷ resvg CLI", "ms", png, resvg, png / resvg, "<= 1.0")
summary("JPEG q85 render + encode, CPU ms p50 ÷ Pillow", "ms", jpeg, pillow_jpeg, jpeg / pillow_jpeg, "<= 0.3")
one, two = median(ours, "imagesPerSecond1"), median(ours, "imagesPerSecond2")
summary("images/s, 2 worker processes ÷ 1", "images/s", two, one, two / one, ">= 1.8")
summary("peak RSS of a worker rendering", "MB", median(ours, "workerPeakRssMB"), None, None, "<= 40")
