"""A class in headless Chromium, two browser contexts: the teacher starts and shares a short
run, a student opens the link, watches the curve advance, and afterwards Compare (and the
banner over every tab) uses the class model. Projector mode by toggle and by link."""
from __future__ import annotations

import pytest

from .browser import SEVEN, TIMEOUT_S, draw, open_page, wait_until, wait_verdict

pytestmark = pytest.mark.e2e


def curve_points(pg, elem_id: str) -> int:
    """Points drawn on a LinePlot (Vega draws a line as one path; count its vertices)."""
    d = pg.evaluate(f"""() => {{ const p = document.querySelector('#{elem_id} .mark-line path');
                                return p ? p.getAttribute('d') || '' : ''; }}""")
    return d.count("L") + (1 if d else 0)


def test_a_student_follows_the_teachers_shared_run_then_uses_the_class_model(browser, server, page_server, shots,
                                                                             held_replay):
    with open_page(browser, server) as teacher, open_page(browser, server) as student:
        teacher.click("#tab-retrain-button")
        teacher.locator("#retrain-length label", has_text="short").click()
        teacher.click("#retrain-start")
        teacher.locator("#retrain-status [data-kind='running']").get_by_text("Training with").wait_for()
        teacher.click("#class-share-btn")
        teacher.locator("#class-code").wait_for()
        code = teacher.locator("#class-code").inner_text().strip()
        link = teacher.locator(".class-link a").get_attribute("href")
        assert link.endswith(f"?class={code}") and teacher.locator(".class-qr svg").count() == 1
        teacher.screenshot(path=str(shots / "class_teacher.png"), full_page=True)

        student.goto(link)  # the Class tab comes to the front and follows the run
        student.locator("#class-status [data-kind='running']").wait_for(timeout=TIMEOUT_S * 1000)
        first = wait_until(student, lambda: curve_points(student, "class-loss-plot"), "the first curve point")
        wait_until(student, lambda: curve_points(student, "class-loss-plot") > first, "the curve to advance")
        student.screenshot(path=str(shots / "class_student_live.png"), full_page=True)
        wait_until(teacher, lambda: "1 screen following" in teacher.locator("#class-share-card").inner_text(),
                   "the teacher's card to count the student")

        teacher.click("#retrain-stop")  # the model trained so far becomes the class's
        student.locator("#class-status [data-kind='done']").wait_for(timeout=120_000)
        banner = student.locator("#model-banner")
        banner.get_by_text(f"Using class model {code}").wait_for()
        student.click("#tab-compare-button")
        assert banner.is_visible()  # over every tab, Compare included
        student.wait_for_selector("#sketch-a canvas")
        draw(student, "a", SEVEN)
        draw(student, "b", SEVEN)
        wait_verdict(student)
        key = next(k for k in page_server.models.keys() if page_server.models.label(k).startswith(f"class model {code}"))
        judged_by = float(student.locator("#verdict .verdict-nums b").nth(2).inner_text().replace("\u2212", "-"))
        assert judged_by == pytest.approx(page_server.models.comparator(key).threshold, rel=0.01, abs=0.002)
        student.screenshot(path=str(shots / "class_student_compare.png"), full_page=True)
        student.click("#banner-back")
        banner.wait_for(state="hidden")


def test_projector_mode_by_toggle_and_by_link(browser, server, shots):
    def sizes(pg):
        return pg.evaluate("""() => [document.body.classList.contains('projector'),
            parseFloat(getComputedStyle(document.querySelector('#page-header h1')).fontSize)]""")

    with open_page(browser, server) as pg:
        pg.wait_for_selector("#projector-toggle input")
        pg.wait_for_selector("#page-header h1")
        off, normal = sizes(pg)
        pg.check("#projector-toggle input")
        wait_until(pg, lambda: sizes(pg)[0], "projector mode on")
        assert sizes(pg)[1] > normal and not off
    with open_page(browser, server + "?projector=1") as pg:
        pg.wait_for_selector("#page-header h1")
        wait_until(pg, lambda: sizes(pg)[0], "projector mode from the link")
        assert pg.locator("#projector-toggle input").is_checked()
        pg.screenshot(path=str(shots / "projector_compare.png"), full_page=False)
