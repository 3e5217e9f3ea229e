"""What the hostile model sends: each payload sets `window.__pwned` or opens a dialog if it ever runs."""

PAYLOAD = (
    "<img src=x onerror=\"window.__pwned='img';alert(1)\">"
    "<script>window.__pwned='script';alert(2)</script>"
    "<a href=\"javascript:window.__pwned='link';alert(3)\">click</a>"
    "<svg onload=\"window.__pwned='svg';alert(4)\"></svg>"
)
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" onload="alert(5)">'
    "<script>parent.__pwned='svg-output';alert(6)</script>"
    '<rect width="120" height="40" fill="#c33"/>'
    '<a href="javascript:alert(7)"><text x="8" y="26" fill="#fff">hostile</text></a></svg>'
)
HTML = "<!doctype html><script>window.__pwned='html-output';alert(8)</script><h1>hostile</h1>"
