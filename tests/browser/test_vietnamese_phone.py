"""A worker on a 360 px phone set to Korean chooses Tiếng Việt once on the
Privacy page; from then on the portal is Vietnamese, page after page and in
a second browser, and no page needs sideways scrolling at that width
(Vietnamese runs longer than Korean)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, new_context, off_the_loop, sign_in
from workers.models import Worker

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

PAGES = [
    ("/me/", "Hôm nay"),
    ("/me/checkin/", "Khai báo sức khỏe hằng ngày"),
    ("/me/appointments/", "Lịch hẹn"),
    ("/me/guide/", "Hướng dẫn sức khỏe"),
    ("/me/guide/heat/", "Dấu hiệu của bệnh do nóng"),
    ("/me/data/", "Tải xuống dạng JSON"),
    ("/consultations/", "Yêu cầu tư vấn"),
    ("/me/privacy/", "Những gì được thu thập"),
]


def test_a_worker_chooses_vietnamese_on_a_phone_and_keeps_it(alice, browser, server):
    context = new_context(browser, server, phone=True)
    page = context.new_page()
    sign_in(page, alice.user.username)
    page.goto("/me/privacy/#language")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.locator("#language input[value=vi]").check()
    with page.expect_navigation():
        page.locator("#language button[type=submit]").click()
    assert page.locator("html").get_attribute("lang") == "vi"
    assert off_the_loop(lambda: Worker.objects.get(pk=alice.pk).language) == "vi"

    for url, heading in PAGES:
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == "vi", url
        assert heading in page.locator("body").inner_text(), url
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= PHONE["width"], f"{url} is {overflow} px wide"
    context.close()

    # Another phone, also set to Korean: the choice followed the worker.
    other = new_context(browser, server, phone=True)
    page = other.new_page()
    sign_in(page, alice.user.username)
    page.goto("/me/")
    assert page.locator("html").get_attribute("lang") == "vi"
    other.close()
