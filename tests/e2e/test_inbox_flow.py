"""Questions in a real browser at 360 px: an owner asks the УК; two colleagues (`staff`, `ukadmin`) open the shared
inbox side by side; one claims, the other is refused with the colleague's name and then sees the claim; the first
answers inline without leaving the page; the owner sees the answer (and an email is queued)."""

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import OutboxMessage
from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e

SUBJECT = "Не работает домофон во втором подъезде"
QUESTION = "Второй день не открывается дверь с ключа, трубка в квартире молчит."
ANSWER = "Мастер придёт завтра с 10 до 12, дверь пока открыта на проветривание."


def phone(browser, base_url):
    """A second phone: its own browser context (cookies), failing the test on any unexpected browser error."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="ru-RU", timezone_id="Asia/Chita", base_url=base_url)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    expected = ("status of 422", "status of 409")  # validation and conflict answers are part of the htmx contract
    page.on("console", lambda msg: page.errors.append(msg.text)
            if msg.type == "error" and not any(e in msg.text for e in expected) else None)
    return context, page


def test_owner_asks_two_colleagues_claim_one_answers_inline(page, browser, base_url, live_app):
    from playwright.sync_api import expect  # here: without Playwright the fixtures skip (or fail) with a reason

    # The owner asks the УК.
    login(page, "owner")
    page.get_by_role("link", name="Вопросы", exact=True).click()
    page.wait_for_url("**/questions/")
    assert_fits(page)
    assert_accessible(page, "owner questions")
    page.get_by_role("link", name="Задать вопрос").click()
    page.get_by_label("Тема").fill(SUBJECT)
    page.get_by_role("button", name="Отправить вопрос").click()
    page.locator(".error-summary").wait_for()
    assert "Выберите, кому адресован вопрос" in page.locator("#addressee-error").inner_text()
    assert "Напишите, что вы хотите узнать" in page.locator("#text-error").inner_text()
    assert page.get_by_label("Тема").input_value() == SUBJECT  # nothing typed is lost
    assert page.title().startswith("Ошибка:")
    assert_fits(page)
    assert_accessible(page, "ask form with errors")
    page.get_by_label("ООО «УК «Северный»").check()
    page.get_by_label("Вопрос").fill(QUESTION)
    page.get_by_role("button", name="Отправить вопрос").click()
    page.get_by_role("heading", name=SUBJECT).wait_for()
    assert "Вопрос отправлен" in page.locator("#flash").inner_text()
    assert "Ждёт ответа" in page.locator(".notice-meta").first.inner_text()
    thread_url = page.url
    assert_accessible(page, "owner thread")

    # Two colleagues open the inbox on their phones.
    staff_ctx, staff = phone(browser, base_url)
    admin_ctx, admin = phone(browser, base_url)
    for colleague, name in ((staff, "staff"), (admin, "ukadmin")):
        login(colleague, name)
        colleague.goto("/manage/inbox")
        colleague.locator("article", has_text=SUBJECT).wait_for()
    assert_fits(staff)
    assert_accessible(staff, "inbox")
    before = {tab: int(staff.locator(f'#inbox-tabs [data-count="{tab}"]').inner_text())
              for tab in ("new", "mine", "answered")}  # whatever the demo holds
    card = staff.locator("article", has_text=SUBJECT)
    card_id = card.get_attribute("id")
    staff.evaluate("window.__stayed = true")  # gone if the page reloads

    # `staff` claims: the card changes in place, the counts follow, the answer field gets the focus.
    card.get_by_role("button", name="Я отвечу").click()
    staff.locator(f"#{card_id}", has_text="Вы отвечаете").wait_for()
    # The tabs refresh on `inbox:changed` (no string predicates: the CSP forbids eval, so poll with expect()).
    expect(staff.locator('#inbox-tabs [data-count="mine"]')).to_have_text(str(before["mine"] + 1))
    expect(staff.locator('#inbox-tabs [data-count="new"]')).to_have_text(str(before["new"] - 1))
    assert staff.evaluate("document.activeElement.id") == f"reply-{card_id.split('-')[1]}"
    assert staff.evaluate("window.__stayed === true")

    # `ukadmin` had the old page: the claim is refused with the colleague's name, and the card shows the claim.
    stale = admin.locator(f"#{card_id}")
    stale.get_by_role("button", name="Я отвечу").click()
    refusal = admin.locator(f"#{card_id} [role=alert]")
    refusal.wait_for()
    assert "уже взят в работу: отвечает Морозова Ольга Сергеевна" in refusal.inner_text()
    assert "Отвечает: Морозова Ольга Сергеевна" in admin.locator(f"#{card_id}").inner_text()
    assert admin.locator(f"#{card_id}").get_by_role("button", name="Я отвечу").count() == 0
    assert_fits(admin)
    assert_accessible(admin, "inbox after a refused claim")
    admin.reload()
    assert admin.locator(f"#{card_id}").count() == 0  # no longer among the new ones
    admin.get_by_role("link", name=re.compile("^Все")).click()
    admin.wait_for_url("**tab=all")
    assert "Отвечает: Морозова Ольга Сергеевна" in admin.locator(f"#{card_id}").inner_text()
    assert_accessible(admin, "inbox, all")

    # `staff` answers inline.
    staff.locator(f"#{card_id}").get_by_role("button", name="Отправить ответ").click()
    staff.locator(f"#{card_id} #reply-{card_id.split('-')[1]}-error").wait_for()  # empty: said next to the field
    assert "Напишите ответ" in staff.locator(f"#{card_id} .error-message").inner_text()
    reply = staff.locator(f"#{card_id}").get_by_label("Ответ собственнику")
    reply.fill(ANSWER)
    staff.locator(f"#{card_id}").get_by_role("button", name="Отправить ответ").click()
    staff.locator(f"#{card_id}", has_text="Ответ отправлен собственнику").wait_for()
    answered = staff.locator(f"#{card_id}")
    assert "Есть ответ" in answered.inner_text() and ANSWER in answered.inner_text()
    expect(staff.locator('#inbox-tabs [data-count="answered"]')).to_have_text(str(before["answered"] + 1))
    assert staff.evaluate("window.__stayed === true")
    assert staff.url.endswith("/manage/inbox")
    assert_fits(staff)
    assert_accessible(staff, "inbox after the answer")

    # The owner sees the answer, signed by the УК; an email is on its way.
    page.goto(thread_url)
    thread = page.locator("#question-thread")
    assert ANSWER in thread.inner_text() and "ООО «УК «Северный»" in thread.inner_text()
    assert "Морозова" not in thread.inner_text()
    assert "Есть ответ" in page.locator(".notice-meta").first.inner_text()
    assert_fits(page)
    assert_accessible(page, "owner thread with the answer")
    with live_app.app_context():
        mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("question-answer:%"),
                                                              OutboxMessage.subject.contains(SUBJECT))).one()
        assert mail.to_address == "owner@example.ru" and ANSWER in mail.body_text
        db.session.remove()

    for context, colleague in ((staff_ctx, staff), (admin_ctx, admin)):
        context.close()
        assert not colleague.errors, colleague.errors
