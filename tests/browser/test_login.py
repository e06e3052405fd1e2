"""The operators' way in: the admin login form in a real browser."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from tests.browser.conftest import FAST_HASHER, STAFF_PASSWORD, STAFF_USERNAME, log_in


def test_staff_user_logs_in_through_the_form_after_a_wrong_password(anonymous_page, staff_user):
    page = anonymous_page
    log_in(page, STAFF_USERNAME, "not-the-password")
    expect(page.get_by_text(re.compile("Please enter the correct username and password"))).to_be_visible()
    assert "/admin/login/" in page.url

    log_in(page, STAFF_USERNAME, STAFF_PASSWORD)

    page.wait_for_url(re.compile(r"/admin/$"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert get_user_model().objects.get(username=STAFF_USERNAME).last_login is not None
    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    assert Session.objects.get(session_key=session_key).get_decoded()["_auth_user_id"] == str(staff_user.pk)


def test_a_user_without_staff_rights_stays_on_the_login_page(anonymous_page, settings):
    settings.PASSWORD_HASHERS = FAST_HASHER
    get_user_model().objects.create_user("viewer", "viewer@example.test", "viewer-password-1")
    page = anonymous_page

    log_in(page, "viewer", "viewer-password-1")

    expect(page.get_by_text(re.compile("correct username and password for a staff account"))).to_be_visible()
    assert "/admin/login/" in page.url
    assert "sessionid" not in {cookie["name"] for cookie in page.context.cookies()}
