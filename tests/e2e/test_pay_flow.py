"""Paying from the phone in a real browser at 360 px: the receipt shows the amount, the QR image (loaded), every
requisite with «Копировать» (the clipboard holds the value; without the Clipboard API the value is selected;
without JavaScript the values are simply there), «Оплатить» shares the QR PNG; a line explains itself and
«Оспорить» files an appeal with the line attached. Checked at 320 and 360 px with axe-core."""

import pytest
from sqlalchemy import select

from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e

VALID = {"inn": "7536123455", "kpp": "753601001", "bank_name": "ЧИТИНСКОЕ ОТДЕЛЕНИЕ N8600 ПАО СБЕРБАНК",
         "bank_bic": "047601637", "bank_account": "40702810674000012345",
         "bank_corr_account": "30101810500000000637"}

FAKE_SHARE = """
window.__shared = null;
Object.defineProperty(navigator, 'canShare', {configurable: true, value: function (d) {
  return !!(d && d.files && d.files.length && d.files[0].type === 'image/png'); }});
Object.defineProperty(navigator, 'share', {configurable: true, value: function (d) {
  window.__shared = {title: d.title, text: d.text,
                     files: (d.files || []).map(function (f) { return {name: f.name, type: f.type, size: f.size}; })};
  return Promise.resolve(); }});
"""


@pytest.fixture
def receipt(live_app):
    """The demo owner's latest receipt, with valid bank details and a cold-water line whose basis names the meter."""
    from app.extensions import db
    from app.models import Charge, Meter, Statement, User

    with live_app.app_context():
        owner = db.session.scalar(select(User).where(User.login == "owner"))
        premises = owner.premises_list[0]
        org = premises.building.organisation
        for key, value in VALID.items():
            setattr(org, key, value)
        statement = db.session.scalar(select(Statement).where(Statement.premises_id == premises.id)
                                      .order_by(Statement.period.desc()))
        water = next(c for c in db.session.scalars(select(Charge).where(
            Charge.premises_id == premises.id, Charge.period == statement.period)) if c.service.code == "CW")
        meter = db.session.scalar(select(Meter).where(Meter.premises_id == premises.id,
                                                      Meter.resource == "cold_water"))
        water.basis = {"rule": "ПП 354 п. 42", "method": "meter", "text": "Объём по показаниям счётчика",
                       "meters": [{"meter_id": meter.id, "serial": meter.serial_number, "method": "meter",
                                   "volume": str(water.volume), "previous": None, "current": None,
                                   "average_periods": None, "missing": 0}]}
        db.session.commit()
        info = {"period": statement.period.strftime("%Y-%m"), "account": premises.account_number,
                "service_id": water.service_id, "meter_id": meter.id, "service": water.service.name}
        db.session.remove()
    return info


def _context(browser, base_url, **kw):
    options = dict(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True,
                   locale="ru-RU", timezone_id="Asia/Chita", base_url=base_url)
    options.update(kw)
    context = browser.new_context(**options)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "status of 422" not in msg.text
            else None)
    return context, page, errors


def _qr_loaded(page):
    page.wait_for_function("() => { const i = document.querySelector('.pay-qr img');"
                           " return i && i.complete && i.naturalWidth > 0; }")


def test_owner_pays_from_the_phone_and_disputes_a_line(browser, base_url, receipt):
    context, page, errors = _context(browser, base_url, permissions=["clipboard-read", "clipboard-write"])
    context.add_init_script(FAKE_SHARE)
    login(page, "owner")
    page.goto("/receipts/")
    page.locator("table a").first.click()  # the latest month
    page.wait_for_url(f"**/receipts/{receipt['period']}")
    _qr_loaded(page)
    assert page.locator(".pay-qr img").evaluate("i => i.naturalWidth") > 100
    assert "отсканируйте с экрана компьютера" not in page.content()
    assert_fits(page)
    assert_accessible(page, "receipt with QR and requisites")

    # «Копировать» next to the personal account puts exactly the account number on the clipboard
    copy = page.locator('[data-copy="req-pers_acc"]')
    copy.click()
    page.locator("#copy-status", has_text="Скопировано").wait_for(state="attached")
    assert page.evaluate("navigator.clipboard.readText()") == receipt["account"]
    page.locator('[data-copy="req-account"]').click()
    page.wait_for_function("t => document.getElementById('req-account').nextElementSibling.textContent === t",
                           arg="Скопировано")
    assert page.evaluate("navigator.clipboard.readText()") == "40702810674000012345"

    # «Оплатить» shares the QR as a PNG file with the requisites as text
    share = page.get_by_role("button", name="Оплатить")
    share.wait_for()
    page.wait_for_timeout(300)  # the PNG is fetched in the background before the click
    share.click()
    page.wait_for_function("() => window.__shared !== null")
    shared = page.evaluate("window.__shared")
    assert shared["files"][0]["type"] == "image/png" and shared["files"][0]["size"] > 200
    assert f"Лицевой счёт: {receipt['account']}" in shared["text"]

    # a line explains itself (no JavaScript needed: <details>)
    line = page.locator(f"#line-{receipt['service_id']}")
    line.get_by_text("Из чего сложилась сумма").click()
    explanation = line.locator("details.explain")
    assert explanation.evaluate("d => d.open")
    assert "Основание: ПП 354 п. 42" in explanation.inner_text()
    assert explanation.get_by_role("link").get_attribute("href") == f"/readings/meters/{receipt['meter_id']}"
    assert_fits(page)

    # «Оспорить» opens the appeal form with the line attached, read-only; filing keeps it on the appeal page
    line.get_by_role("link", name="Оспорить").click()
    page.wait_for_url("**/appeals/new?*")
    attached = page.locator(".receipt-line")
    assert receipt["service"] in attached.inner_text()
    assert_fits(page)
    assert_accessible(page, "appeal form with a receipt line")
    page.get_by_label("Описание").fill(page.get_by_label("Описание").input_value() + "объём больше обычного.")
    page.get_by_role("button", name="Отправить").click()
    page.wait_for_url("**/appeals/*")
    assert "Оспариваемая строка квитанции" in page.locator(".receipt-line").inner_text()
    assert receipt["service"] in page.locator(".receipt-line").inner_text()
    assert_fits(page)
    assert_accessible(page, "appeal with a receipt line")

    # 320 px: the receipt still fits and stays accessible
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(f"/receipts/{receipt['period']}")
    _qr_loaded(page)
    page.locator(f"#line-{receipt['service_id']} summary").click()
    assert_fits(page, 320)
    assert_accessible(page, "receipt at 320 px")
    context.close()
    assert not errors, errors


def test_copy_falls_back_to_selecting_and_works_without_javascript(browser, base_url, receipt):
    context, page, errors = _context(browser, base_url)
    context.add_init_script("Object.defineProperty(navigator, 'clipboard', {configurable: true, value: undefined});")
    login(page, "owner")
    page.goto(f"/receipts/{receipt['period']}")
    page.locator('[data-copy="req-pers_acc"]').click()
    assert page.evaluate("window.getSelection().toString()") == receipt["account"]
    assert page.locator('[data-copy="req-pers_acc"]').inner_text() == "Выделено: скопируйте"
    # «Оплатить» is shown only where the browser has the Web Share API; the QR can be saved anyway
    assert page.get_by_role("button", name="Оплатить").is_visible() is page.evaluate("!!navigator.share")
    assert page.get_by_role("link", name="Сохранить QR-код").is_visible()
    context.close()
    assert not errors, errors

    context, page, errors = _context(browser, base_url)
    context.add_init_script("Object.defineProperty(navigator, 'share', {configurable: true, value: undefined});")
    login(page, "owner")
    page.goto(f"/receipts/{receipt['period']}")
    page.locator('[data-copy="req-pers_acc"]').wait_for()
    assert page.locator("#pay-share").is_hidden()  # no Web Share API: no button that would do nothing
    context.close()

    context, page, errors = _context(browser, base_url, java_script_enabled=False)
    login(page, "owner")
    page.goto(f"/receipts/{receipt['period']}")
    assert page.locator("#req-pers_acc").inner_text() == receipt["account"]
    assert page.locator("[data-copy]").first.is_hidden()  # no button that would do nothing
    page.locator(f"#line-{receipt['service_id']} summary").click()
    assert page.locator(f"#line-{receipt['service_id']} details").evaluate("d => d.open") is True
    context.close()
