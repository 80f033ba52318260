import sys
# One original mark: a two-tone flame over a hearth stone on a warm dark rounded square.
def svg(outer, inner, stone, bg=True, size=1024):
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 1024 1024">']
    if bg:
        parts.append('<rect x="48" y="48" width="928" height="928" rx="200" ry="200" fill="#2a1b14"/>')
    parts.append(f'<path stroke="none" fill="{outer}" d="M512 150 C600 300 760 380 760 590 C760 740 650 840 512 840 C374 840 264 740 264 590 C264 470 340 400 380 330 C400 420 440 460 470 470 C460 360 480 250 512 150 Z"/>')
    parts.append(f'<path stroke="none" fill="{inner}" d="M512 450 C560 530 640 570 640 670 C640 750 580 800 512 800 C444 800 384 750 384 670 C384 610 430 570 450 530 C470 580 490 600 505 605 C500 550 500 500 512 450 Z"/>')
    parts.append(f'<rect x="232" y="852" width="560" height="64" rx="32" ry="32" fill="{stone}"/>')
    parts.append('</svg>')
    return "\n".join(parts)
kind = sys.argv[1]
if kind == "app":
    print(svg("#f26b1d", "#ffc53d", "#c9b8a6"))
elif kind == "running":
    print(svg("#f26b1d", "#ffc53d", "#c9b8a6", bg=False))
elif kind == "degraded":
    # Same flame, with a warning badge so the state reads at 16 px.
    s = svg("#f26b1d", "#ffc53d", "#c9b8a6", bg=False)
    s = s.replace("</svg>", '<circle cx="800" cy="260" r="200" fill="#e5b400" stroke="#2a1b14" stroke-width="40"/><rect x="775" y="140" width="50" height="150" rx="20" fill="#2a1b14"/><circle cx="800" cy="350" r="30" fill="#2a1b14"/></svg>')
    print(s)
elif kind == "stopped":
    print(svg("#8a8580", "#b8b3ad", "#6d6964", bg=False))
