"""The image suite's summaries: medians over rounds and the ratios the goals are stated in."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from summaries import median, printer, read_rounds  # noqa: E402

ours, peer = read_rounds(sys.stdin)
summary = printer("image")

png, jpeg = median(ours, "pngMsP50"), median(ours, "jpegMsP50")
pillow_png, pillow_jpeg, resvg = median(peer, "pillowPngMsP50"), median(peer, "pillowJpegMsP50"), median(peer, "resvgCliPngMsP50")
summary("PNG render + encode, CPU ms p50, one worker ÷ Pillow", "ms", png, pillow_png, png / pillow_png, "<= 0.4")
summary("PNG render + encode, CPU ms p50, one worker ÷ resvg CLI", "ms", png, resvg, png / resvg, "<= 1.0")
summary("JPEG q85 render + encode, CPU ms p50 ÷ Pillow", "ms", jpeg, pillow_jpeg, jpeg / pillow_jpeg, "<= 0.3")
one, two = median(ours, "imagesPerSecond1"), median(ours, "imagesPerSecond2")
summary("images/s, 2 worker processes ÷ 1", "images/s", two, one, two / one, ">= 1.8")
summary("peak RSS of a worker rendering", "MB", median(ours, "workerPeakRssMB"), None, None, "<= 40")
