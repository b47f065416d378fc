"""The image suite's peers, drawing the card of benchmarks/image/card.json: Pillow (PNG at its
default settings, JPEG q85) and the resvg command-line tool on the same card as SVG. CPU time
per image (the process's own for Pillow, the child's for resvg). Prints one JSON line."""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from PIL import Image, ImageDraw, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
CARD = json.load(open(os.path.join(HERE, "card.json")))
W, H = 1200, 630
INTER_BOLD = "/usr/share/fonts/opentype/inter/Inter-Bold.otf"
INTER = "/usr/share/fonts/opentype/inter/Inter-Regular.otf"
EMOJI = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"


def hex_rgb(text):
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))


def gradient(start, end):
    # CSS 135deg: from the top-left corner to the bottom-right one; the colour is constant along
    # each line x + y = k, at t = k / (W + H).
    image = Image.new("RGB", (W, H))
    draw = ImageDraw.Draw(image)
    for k in range(W + H):
        t = k / (W + H - 1)
        color = tuple(round(a + (b - a) * t) for a, b in zip(start, end))
        draw.line([(k, 0), (0, k)], fill=color, width=2)
    return image


def wrap(draw, text, font, width):
    lines, line = [], ""
    for word in text.split():
        candidate = (line + " " + word).strip()
        if draw.textlength(candidate, font=font) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    return lines + ([line] if line else [])


def pillow_card(title_font, text_font, emoji_font):
    params = CARD["params"]
    image = gradient(hex_rgb(CARD["background"]["colors"][0]), hex_rgb(CARD["background"]["colors"][1]))
    draw = ImageDraw.Draw(image)
    padding, width = params["padding"], W - 2 * params["padding"]
    title = wrap(draw, params["title"], title_font, width)
    text = params["description"].replace("🚀", "").replace("✨", "").rstrip()
    y = (H - (len(title) * 70 + 24 + 40)) // 2
    for line in title:
        draw.text((padding, y), line, font=title_font, fill=(255, 255, 255))
        y += 70
    y += 24
    draw.text((padding, y), text, font=text_font, fill=(255, 255, 255))
    # Colour emoji: Noto's bitmaps come at 109 px; draw them there and scale to the text size.
    x = padding + int(draw.textlength(text + " ", font=text_font))
    for emoji in ("🚀", "✨"):
        glyph = Image.new("RGBA", (136, 128))
        ImageDraw.Draw(glyph).text((0, 0), emoji, font=emoji_font, embedded_color=True)
        glyph = glyph.resize((34, 32))
        image.paste(glyph, (x, y + 4), glyph)
        x += 36
    return image


def svg_card():
    params = CARD["params"]
    start, end = CARD["background"]["colors"]
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="{start}"/><stop offset="1" stop-color="{end}"/></linearGradient></defs>
<rect width="{W}" height="{H}" fill="url(#g)"/>
<text font-family="Inter" font-weight="700" font-size="64" fill="#fff"><tspan x="64" y="280">Open Graph cards, rendered in</tspan><tspan x="64" y="350">worker processes</tspan></text>
<text font-family="Inter" font-size="32" fill="#fff" x="64" y="420">{params["description"]}</text>
</svg>"""


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    rounds = int(sys.argv[sys.argv.index("--images") + 1]) if "--images" in sys.argv else 30
    resvg = sys.argv[sys.argv.index("--resvg") + 1]
    out = sys.argv[sys.argv.index("--out") + 1]
    title_font, text_font = ImageFont.truetype(INTER_BOLD, 64), ImageFont.truetype(INTER, 32)
    emoji_font = ImageFont.truetype(EMOJI, 109)
    png, jpeg = [], []
    for index in range(rounds):
        start = cpu()
        card = pillow_card(title_font, text_font, emoji_font)
        card.save(os.path.join(out, "pillow.png"))
        png.append((cpu() - start) * 1e3)
        start = cpu()
        card = pillow_card(title_font, text_font, emoji_font)
        card.save(os.path.join(out, "pillow.jpg"), quality=85)
        jpeg.append((cpu() - start) * 1e3)
    svg = os.path.join(out, "card.svg")
    open(svg, "w").write(svg_card())
    times = []
    for index in range(max(5, rounds // 3)):
        start = children_cpu()
        subprocess.run([resvg, svg, os.path.join(out, "resvg.png")], check=True)
        times.append((children_cpu() - start) * 1e3)
    print(json.dumps({"suite": "image", "side": "peer", "pillowPngMsP50": statistics.median(png),
                      "pillowJpegMsP50": statistics.median(jpeg), "resvgCliPngMsP50": statistics.median(times)}), flush=True)


if __name__ == "__main__":
    main()
