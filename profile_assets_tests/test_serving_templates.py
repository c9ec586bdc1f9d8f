"""Email templates: every shipped one renders with or without data, HTML is escaped, template
code cannot reach Python internals, and names cannot leave the template folders."""

import pytest

from profile_assets.serving import templates

FULL = {
    "profile_id": "P1",
    "first_name": "Ana",
    "full_name": "Ana Lima",
    "city": "Lisbon",
    "orders_count": 3,
    "churn_score": 0.9,
    "last_purchase_at": "2026-01-02T10:00:00+00:00",
    "rfm_segment": "at_risk",
    "open_cart": {
        "cart_id": "c1",
        "item_count": 2,
        "value": 57.5,
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": 28.75}],
    },
    "last_order": {"order_id": "o9"},
}
PAYLOADS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ profile.__class__.__base__.__subclasses__() }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ namespace.__init__.__globals__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ profile.update({'x': 1}) }}",
    "{{ (profile|attr('__class__')) }}",
    "{{ request.application.__globals__ }}",
]


def test_the_shipped_templates_are_there():
    assert templates.template_names() == ["abandoned_cart", "recommendation", "welcome", "winback"]


@pytest.mark.parametrize("name", ["abandoned_cart", "recommendation", "welcome", "winback"])
@pytest.mark.parametrize("fmt", ["html", "text"])
def test_every_template_renders_with_missing_fields(name, fmt):
    assert "Hello there" in templates.render(name, {}, fmt)
    partial = {"first_name": None, "full_name": "Bo Ek", "open_cart": {"lines": [{}]}}
    assert "Hi Bo" in templates.render(name, partial, fmt)
    assert "Hi Ana" in templates.render(name, FULL, fmt)


def test_winback_offers_a_discount_only_when_churn_is_likely():
    assert "COMEBACK20" in templates.render("winback", FULL, "text")
    assert "COMEBACK20" not in templates.render("winback", FULL | {"churn_score": 0.2}, "text")
    assert "COMEBACK20" not in templates.render("winback", FULL | {"churn_score": None}, "text")
    assert "COMEBACK20" not in templates.render("winback", FULL | {"churn_score": "high"}, "text")


def test_abandoned_cart_lists_items_and_value():
    text = templates.render("abandoned_cart", FULL, "text")
    assert "SKU-1 x 2 at 28.75" in text and "(2 items) comes to 57.50" in text


def test_html_is_autoescaped_and_text_is_not():
    hostile = FULL | {"first_name": "<script>alert(1)</script>", "city": "O'Brien & Co"}
    html = templates.render("welcome", hostile, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; Co" in html
    assert "<script>" in templates.render("welcome", hostile, "text")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sandbox_escapes_fail_safely(payload, tmp_path, monkeypatch):
    for suffix in ("html.j2", "txt.j2"):
        (tmp_path / f"evil.{suffix}").write_text(payload)
    monkeypatch.setenv(templates.TEMPLATES_ENV, str(tmp_path))
    try:
        out = templates.render("evil", {"first_name": "Ana"}, "text")
    except templates.RenderError:
        return
    for leak in ("class", "subclasses", "module", "function", "uid=", "globals", "<built-in"):
        assert leak not in out.lower(), (payload, out)


@pytest.mark.parametrize(
    "name",
    ["../welcome", "..%2Fwelcome", "/etc/passwd", "welcome/../../x", "_layout", "WELCOME",
     "welcome.html", "", "a" * 100, "welcome\x00"],
)  # fmt: skip
def test_names_cannot_leave_the_folder(name):
    with pytest.raises(templates.UnknownTemplate):
        templates.render(name, FULL, "html")


def test_unknown_format_is_an_unknown_template():
    with pytest.raises(templates.UnknownTemplate):
        templates.render("welcome", FULL, "pdf")


def test_the_configured_folder_overrides_and_adds_templates(tmp_path, monkeypatch):
    (tmp_path / "welcome.txt.j2").write_text("Custom hello {{ profile.first_name }}")
    (tmp_path / "welcome.html.j2").write_text("<p>{{ profile.first_name }}</p>")
    monkeypatch.setenv(templates.TEMPLATES_ENV, str(tmp_path))
    assert templates.render("welcome", FULL, "text") == "Custom hello Ana"
    assert templates.render("winback", FULL, "text").startswith("Hi Ana")
