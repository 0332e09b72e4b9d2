"""replace_section.py FILE HEADING NEW_TEXT_FILE: replaces the '## ...' section
starting with HEADING (up to the next '## ') with the new text, or appends it."""
import sys

path, heading, new_path = sys.argv[1:4]
new = open(new_path).read().rstrip() + "\n"
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmarks\n\n"
start = text.find(heading)
if start < 0:
    text = text.rstrip() + "\n\n" + new
else:
    end = text.find("\n## ", start + len(heading))
    text = text[:start] + new + ("" if end < 0 else text[end:])
open(path, "w").write(text)
