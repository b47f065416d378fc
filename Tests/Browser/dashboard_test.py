"""The dashboard in headless Chromium (Debian's, driven by Playwright), against a running
`offload serve`: it loads with no console error, shows the workers, a job submitted through its
form appears and completes, a long job is cancelled with its button; jobs are found by state and
tag, those a filter matches retried at once, a kind paused and resumed, a schedule's last outcome
shown and the schedule paused from its panel, jobs found by a text in their payload, a job's dependencies and
dependents listed in its panel and followed by a click. Then the same dashboard
mounted under /admin in the README's blog (Tests/DocumentationExamples/Blog): it loads from
/admin, shows the blog's own kind and runs a job of it. Screenshots are saved.

    python dashboard_test.py OFFLOAD_EXECUTABLE SCREENSHOT_FOLDER BLOG_EXECUTABLE
"""
import json
import os
import shutil
import sys
import tempfile
import urllib.request

from playwright.sync_api import expect, sync_playwright

from serve import Serve


def post(serve, path, body):
    request = urllib.request.Request(
        serve.url + path, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": "Bearer " + serve.token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def post_job(serve, job):
    return post(serve, "/v1/jobs", job)["ids"]


def get(serve, path):
    request = urllib.request.Request(serve.url + path, headers={"Authorization": "Bearer " + serve.token})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def find_and_act(page, serve):
    """Search by state and tag, a bulk retry of what a filter matches, a kind paused and resumed
    from its panel, and the schedules panel with a schedule's last outcome, paused from it."""
    jobs = page.locator("#jobs tbody tr[data-job-id]")
    post_job(serve, [{"kind": "debug.fail", "payload": {"times": 1}, "tags": ["batch:ui"]} for _ in range(3)])
    post_job(serve, [{"kind": "debug.fail", "payload": {"times": 1}, "tags": ["batch:other"]}])
    page.locator("#tag-filter").fill("batch:ui")
    page.locator("#state-filter").select_option("failed")
    expect(jobs).to_have_count(3, timeout=20_000)
    # debug.fail fails its first attempt only: retried, the three complete; the other stays failed.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#bulk-retry").click()
    page.locator("#state-filter").select_option("completed")
    expect(jobs).to_have_count(3, timeout=20_000)
    page.locator("#tag-filter").fill("batch:other")
    page.locator("#state-filter").select_option("failed")
    expect(jobs).to_have_count(1, timeout=20_000)
    page.locator("#tag-filter").fill("")
    page.locator("#state-filter").select_option("")
    # A text in the payload, case aside.
    post_job(serve, [{"kind": "debug.echo", "payload": {"customer": "Initech", "n": n}} for n in range(2)])
    page.locator("#text-filter").fill("initech")
    expect(jobs).to_have_count(2, timeout=20_000)
    page.locator("#text-filter").fill("")

    kind = page.locator('#kinds tbody tr[data-kind="debug.echo"]')
    expect(kind).to_be_visible(timeout=15_000)
    kind.locator("button.pause").click()
    expect(kind.locator("button.resume")).to_be_visible(timeout=10_000)
    [held] = post_job(serve, {"kind": "debug.echo", "payload": {}})
    held_row = page.locator(f'#jobs tbody tr[data-job-id="{held}"]')
    expect(held_row).to_have_attribute("data-state", "queued", timeout=10_000)
    page.wait_for_timeout(1_000)
    expect(held_row).to_have_attribute("data-state", "queued")
    kind.locator("button.resume").click()
    expect(held_row).to_have_attribute("data-state", "completed", timeout=20_000)

    post(serve, "/v1/schedules", {"name": "ui-every-second", "cron": "* * * * * *", "job": {"kind": "debug.echo", "payload": {}}})
    schedule = page.locator('#schedules tbody tr[data-schedule="ui-every-second"]')
    expect(schedule).to_be_visible(timeout=15_000)
    expect(schedule.locator(".last-outcome .badge")).to_have_text("completed", timeout=20_000)
    schedule.locator("button.pause").click()
    expect(schedule.locator(".next-run")).to_have_text("paused", timeout=10_000)


def dependencies(page, serve, output):
    """A chain submitted at once: the middle job waits, its panel lists what it waits for and
    what waits for it with their states, and a link opens the next one."""
    import uuid
    root, middle, leaf = (str(uuid.uuid4()) for _ in range(3))
    post_job(serve, [
        {"id": leaf, "kind": "debug.echo", "payload": {"step": "leaf"}, "dependsOn": [middle]},
        {"id": middle, "kind": "debug.echo", "payload": {"step": "middle"}, "dependsOn": [root]},
        {"id": root, "kind": "debug.sleep", "payload": {"ms": 4000}},
    ])
    middle_row = page.locator(f'#jobs tbody tr[data-job-id="{middle}"]')
    expect(middle_row).to_have_attribute("data-state", "waiting", timeout=15_000)
    middle_row.click()
    detail = page.locator("#job-detail")
    expect(detail.locator("ul.links[aria-label='Jobs it waits for'] li")).to_have_count(1, timeout=10_000)
    expect(detail.locator("ul.links[aria-label='Jobs it waits for'] .badge")).to_have_text("running", timeout=10_000)
    expect(detail.locator("ul.links[aria-label='Jobs that wait for it'] .badge")).to_have_text("waiting")
    page.screenshot(path=os.path.join(output, "dashboard-dependencies.png"), full_page=False)
    expect(middle_row).to_have_attribute("data-state", "completed", timeout=20_000)
    expect(detail.locator("ul.links[aria-label='Jobs it waits for'] .badge")).to_have_text("completed", timeout=10_000)
    detail.locator("ul.links[aria-label='Jobs that wait for it'] button.link-job").click()
    expect(detail.locator("#detail-fields")).to_contain_text(leaf, timeout=10_000)
    expect(detail.locator("ul.links[aria-label='Jobs it waits for'] li")).to_contain_text(middle[:13])
    page.locator("#detail-close").click()


def watch(page, problems):
    page.on("console", lambda message: message.type in ("error", "warning") and problems.append(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url} {request.failure}"))


def check_mounted(blog_executable, chromium, output, problems):
    """The dashboard under /admin of the blog, as its author opens it."""
    folder = tempfile.mkdtemp(prefix="offload-blog-")
    os.makedirs(os.path.join(folder, "posts"))
    with open(os.path.join(folder, "posts", "hello.txt"), "w") as post:
        post.write("Hello, Offload\nA post.\n")
    blog = Serve(None, token="blog-admin-token", command=[blog_executable], folder=folder,
                 environment={"PORT": "0", "ADMIN_TOKEN": "blog-admin-token"}, listening=r"blog: listening on port (\d+)")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
            watch(page, problems)
            page.goto(blog.url + "/admin#token=" + blog.token)
            assert page.url.startswith(blog.url + "/admin/"), page.url
            expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
            expect(page.locator("#workers tbody tr").first).to_be_visible(timeout=15_000)
            form = page.locator("#submit-form")
            form.locator("select[name=kind]").select_option("blog.wordCount")
            form.locator("textarea[name=payload]").fill('{"text": "three short words"}')
            form.locator("button[type=submit]").click()
            job = page.locator("#jobs tbody tr[data-job-id]").first
            expect(job).to_have_attribute("data-state", "completed", timeout=20_000)
            page.wait_for_timeout(1_500)
            page.screenshot(path=os.path.join(output, "dashboard-admin.png"), full_page=True)
            browser.close()
    finally:
        status = blog.stop()
        shutil.rmtree(folder, ignore_errors=True)
    if status != 0:
        problems.append(f"the blog exited {status} after SIGTERM")


def main():
    offload, output, blog_executable = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(output, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("browser test: no chromium on PATH (scripts/browser-test installs Debian's)")
    serve = Serve(offload, "--workers", "2")
    problems = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
            watch(page, problems)

            # Feed it from outside too, as `offload submit` or a server would.
            post_job(serve, [{"kind": "debug.echo", "payload": {"n": n}} for n in range(5)])

            page.goto(serve.url + "/#token=" + serve.token)
            expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
            expect(page.locator("#workers tbody tr").first).to_be_visible(timeout=15_000)
            assert page.locator("#workers tbody tr").count() >= 1
            # The token left the address bar once kept.
            assert "#token" not in page.url, page.url

            form = page.locator("#submit-form")
            form.locator("select[name=kind]").select_option("debug.sleep")
            form.locator("select[name=priority]").select_option("high")
            form.locator("textarea[name=payload]").fill('{"ms": 400}')
            form.locator("button[type=submit]").click()
            quick = page.locator("#jobs tbody tr[data-job-id]").first
            expect(quick).to_have_attribute("data-state", "completed", timeout=20_000)
            quick_id = quick.get_attribute("data-job-id")

            form.locator("textarea[name=payload]").fill('{"ms": 60000}')
            form.locator("button[type=submit]").click()
            long_job = page.locator("#jobs tbody tr[data-job-id]").first
            expect(long_job).not_to_have_attribute("data-job-id", quick_id, timeout=10_000)
            expect(long_job).to_have_attribute("data-state", "running", timeout=20_000)
            long_id = long_job.get_attribute("data-job-id")
            long_job.locator("button.cancel").click()
            try:
                expect(long_job).to_have_attribute("data-state", "cancelled", timeout=20_000)
            except AssertionError as failure:
                # Whether the service holds it cancelled (the page missed it) or running (the click
                # asked for nothing, or the job went on).
                raise AssertionError(f"{failure}\nthe service's view of the job: {get(serve, '/v1/jobs/' + long_id)}") from None

            # Live jobs from outside arrive without a reload.
            [outside] = post_job(serve, {"kind": "debug.sleep", "priority": "critical", "payload": {"ms": 200}})
            expect(page.locator(f'#jobs tbody tr[data-job-id="{outside}"]')).to_have_attribute("data-state", "completed", timeout=20_000)
            find_and_act(page, serve)
            dependencies(page, serve, output)
            expect(page.locator("canvas#throughput")).to_be_visible()
            expect(page.locator("canvas#latency")).to_be_visible()
            page.wait_for_timeout(2_500)  # a few points on the charts
            page.screenshot(path=os.path.join(output, "dashboard.png"), full_page=True)
            browser.close()
    finally:
        status = serve.stop()
    if status != 0:
        problems.append(f"offload serve exited {status} after SIGTERM")
    check_mounted(blog_executable, chromium, output, problems)
    if problems:
        sys.exit("browser test failed:\n  " + "\n  ".join(problems))
    print(f"browser test: dashboard loaded, workers shown, form job completed, long job cancelled, found and retried by filter, "
          f"kind paused and resumed, schedule shown and paused, dependencies shown and followed; the same under the blog's /admin; "
          f"screenshots {output}/dashboard.png, {output}/dashboard-dependencies.png, {output}/dashboard-admin.png")


if __name__ == "__main__":
    main()
