"""The dashboard in headless Chromium (Debian's, driven by Playwright), against a running
`offload serve`: it loads with no console error, shows the workers, a job submitted through its
form appears and completes, a long job is cancelled with its button. Then the same dashboard
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


def post_job(serve, job):
    request = urllib.request.Request(
        serve.url + "/v1/jobs", data=json.dumps(job).encode(), method="POST",
        headers={"Authorization": "Bearer " + serve.token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["ids"]


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
            long_job.locator("button.cancel").click()
            expect(long_job).to_have_attribute("data-state", "cancelled", timeout=20_000)

            # Live jobs from outside arrive without a reload.
            [outside] = post_job(serve, {"kind": "debug.sleep", "priority": "critical", "payload": {"ms": 200}})
            expect(page.locator(f'#jobs tbody tr[data-job-id="{outside}"]')).to_have_attribute("data-state", "completed", timeout=20_000)
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
    print(f"browser test: dashboard loaded, workers shown, form job completed, long job cancelled; the same under the blog's /admin; "
          f"screenshots {output}/dashboard.png, {output}/dashboard-admin.png")


if __name__ == "__main__":
    main()
