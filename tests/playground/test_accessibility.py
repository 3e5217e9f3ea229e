"""Accessibility basics, checked in the browser: labels, keyboard-only use, contrast (light and dark)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.playground.conftest import open_playground, run_and_wait, screenshot

CONTROL = re.compile(
    r'^\s*- (textbox|spinbutton|checkbox|combobox|button|slider|radio|listbox) "([^"]*)"', re.M
)

# WCAG 2.1 AA: 4.5:1 for text, 3:1 for large text and for the borders of form controls.
TEXT_RATIO, LARGE_TEXT_RATIO, CONTROL_RATIO = 4.5, 3.0, 3.0

CONTRAST_SCRIPT = """
() => {
  const rgb = (css) => (css.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c.length >= 3 && (c.length === 3 || c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const texts = [], controls = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!visible(el) || el.closest(".skip") || el.closest(":disabled") || ["SCRIPT", "STYLE"].includes(el.tagName)) continue;
    const style = getComputedStyle(el);
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (own) {
      const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
      const large = size >= 24 || (bold && size >= 18.66);
      texts.push({ what: `${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}"`,
                   ratio: ratio(rgb(style.color), background(el)), need: large ? 3.0 : 4.5 });
    }
    if (el.matches("input:not([type=checkbox]):not([type=file]), select, textarea")) {
      controls.push({ what: `${el.tagName.toLowerCase()}#${el.id}`,
                      ratio: ratio(rgb(style.borderTopColor), background(el.parentElement)), need: 3.0 });
    }
  }
  return { texts, controls };
}
"""


def test_every_input_is_labelled_with_its_name(page: Any, model: Any) -> None:
    server = model("everything")
    open_playground(page, server.url)
    names = list(
        httpx.get(server.url + "/openapi.json").json()["components"]["schemas"]["Input"]["properties"]
    )
    controls = CONTROL.findall(page.locator("#form-slot form").aria_snapshot())
    labelled = {
        name: [label for _, label in controls if re.match(rf"{re.escape(name)}\b", label)] for name in names
    }
    assert all(labelled.values()), f"inputs without a labelled control: {labelled}"
    assert len(controls) == sum(len(v) for v in labelled.values()), (
        f"controls not named after an input: {controls}"
    )
    # and the page's own buttons have names
    assert page.get_by_role("button", name="Run", exact=True).count() == 1
    assert page.get_by_role("button", name="Cancel").count() == 1


def test_keyboard_only_use(page: Any, model: Any) -> None:
    """Tab through every field in order, type, and run with the keyboard alone."""
    server = model("everything")
    open_playground(page, server.url)
    expected = ["prompt", "word", "steps", "temperature", "loud", "style", "tags", "attachment", "api_key"]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the inputs"
    page.keyboard.press("Enter")  # the skip link moves past the header
    reached: list[str] = []
    for _ in range(40):  # bounded: the form has about a dozen stops
        page.keyboard.press("Tab")
        focused = page.evaluate(
            # a visually hidden file input shows its focus on the button drawn for it
            "() => { const shown = (el) => el.matches('.visually-hidden') ? el.nextElementSibling : el; return"
            " ({ field: document.activeElement.closest('[data-field]')?.dataset.field ?? null,"
            " id: document.activeElement.id, outline: getComputedStyle(shown(document.activeElement)).outlineStyle }) }"
        )
        if focused["id"] == "run":
            break
        assert focused["outline"] != "none", f"no visible focus on {focused}"
        if focused["field"] and focused["field"] not in reached:
            reached.append(focused["field"])
        if focused["field"] == "prompt" and reached == ["prompt"]:
            page.keyboard.press("Control+a")
            page.keyboard.type("keyboards")
        if focused["field"] == "loud":
            page.keyboard.press("Space")
    assert reached == expected
    assert page.evaluate("document.activeElement.id") == "run"
    page.keyboard.press("Enter")
    page.locator("#history .run").wait_for()
    output = json.loads(page.locator("#output pre.json").inner_text())
    assert output["text"] == "PLAIN HELLO: KEYBOARDS"
    # Ctrl+Enter from inside a field runs too
    page.get_by_label(re.compile(r"^word\b")).focus()
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.querySelectorAll('#history .run').length === 2")
    screenshot(page, "keyboard-only")


@pytest.mark.parametrize("page", ["light", "dark"], indirect=True)
def test_text_and_controls_have_enough_contrast(
    page: Any, model: Any, request: pytest.FixtureRequest
) -> None:
    server = model("everything")
    open_playground(page, server.url)
    assert run_and_wait(page).startswith("succeeded")  # output, logs and history on the page
    page.get_by_label(re.compile(r"^steps\b")).fill("0")
    page.get_by_role("button", name="Run", exact=True).click()  # an error message on a field
    page.locator("[data-field=steps] .error").wait_for()
    found = page.evaluate(CONTRAST_SCRIPT)
    assert len(found["texts"]) > 40 and len(found["controls"]) >= 7, found  # the check saw the page
    low = [
        f"{x['what']}: {x['ratio']:.2f}" for x in found["texts"] + found["controls"] if x["ratio"] < x["need"]
    ]
    assert not low, f"too little contrast ({request.node.callspec.params['page']}): {low}"
    screenshot(page, f"contrast-{request.node.callspec.params['page']}")
