#!/usr/bin/env python3
"""Log in to Horizon with headless Chromium and check that the instances page loads.

Use it as a function::

    from horizon_login import check_instances_page
    page = check_instances_page("http://10.0.0.11/horizon", "demo", password)

or from the command line (the password comes from an environment variable or from the
cloud's secrets file, never from the command line)::

    .venv/bin/python roles/cloud_verify/files/horizon_login.py --url http://10.0.0.11/horizon --user demo
    # password: $HORIZON_PASSWORD if set, else keystone_demo_password in
    # ~/.config/ostack/secrets.yml (--password-env NAME / --secrets-file / --secret-name)

It exits 0 and prints what it saw when the page is right, and exits 1 with the reason
(login refused, session lost, server error, page without its heading or table, an error
message from the dashboard...) otherwise; 2 when it cannot run at all.

Offline and contained by construction:
- Debian's packages only: the chromium binary (/usr/lib/chromium/chromium, not the
  /usr/bin/chromium wrapper, which exports Google API keys and enables remote
  extensions) and chromedriver (/usr/bin/chromedriver), both given to Selenium
  explicitly, so selenium-manager never runs (and SE_OFFLINE is set in case it would).
- Chromium may reach only the dashboard's host: every other request goes to a proxy
  address where nothing listens, host names other than the dashboard's do not resolve,
  and background networking, component updates, sync, Safe Browsing, metrics, crash
  reports, translation and the like are switched off.

Host packages: chromium, chromium-driver. Python: selenium (pinned in requirements.txt).
"""
import argparse
import contextlib
import dataclasses
import ipaddress
import os
import shutil
import sys
import tempfile
import time
import urllib.parse

DEFAULT_URL = "http://10.0.0.11/horizon"
DEFAULT_SECRETS = os.path.expanduser("~/.config/ostack/secrets.yml")
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# A proxy address where nothing listens: whatever is not the dashboard goes nowhere.
DEAD_PROXY = "http://127.0.0.1:9"

# Features that talk to Google or other services on their own.
DISABLED_FEATURES = [
    "AutofillServerCommunication", "CertificateTransparencyComponentUpdater",
    "DialMediaRouteProvider", "InterestFeedContentSuggestions", "MediaRouter",
    "NetworkTimeServiceQuerying", "OptimizationHints", "OptimizationHintsFetching",
    "PrivacySandboxSettings4", "Translate", "DnsOverHttps",
]


class HorizonCheckError(AssertionError):
    """The dashboard did not behave: the message says what was seen instead."""


@dataclasses.dataclass
class InstancesPage:
    url: str
    title: str
    heading: str
    rows: int
    instances: list
    user: str
    project: str
    messages: list


def chromium_arguments(allowed_host, user_data_dir):
    """Chromium's command line: headless, and only `allowed_host` is reachable."""
    args = [
        "--headless=new",
        f"--user-data-dir={user_data_dir}",
        "--window-size=1280,1024",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--lang=en-US",
        # Nothing but the dashboard: a dead proxy for everything else, and no name
        # resolution except the dashboard's host.
        f"--proxy-server={DEAD_PROXY}",
        f"--proxy-bypass-list={allowed_host}",
        f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {allowed_host}",
        "--dns-prefetch-disable",
        # No background traffic of Chromium's own.
        "--no-first-run",
        "--no-default-browser-check",
        "--no-service-autorun",
        "--no-pings",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-component-extensions-with-background-pages",
        "--disable-client-side-phishing-detection",
        "--safebrowsing-disable-auto-update",
        "--disable-domain-reliability",
        "--disable-breakpad",
        "--disable-crash-reporter",
        "--metrics-recording-only",
        "--disable-field-trial-config",
        "--disable-search-engine-choice-screen",
        "--password-store=basic",
        "--use-mock-keychain",
        "--disable-features=" + ",".join(DISABLED_FEATURES),
    ]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root.
    return args


def _require_files():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        raise FileNotFoundError(
            "missing %s: install Debian's packages with `apt-get install chromium chromium-driver`"
            % ", ".join(missing))


@contextlib.contextmanager
def browser(allowed_host, *, timeout=60):
    """A headless Chromium under Debian's chromedriver, closed and cleaned up after."""
    _require_files()
    # selenium-manager must never fetch anything; it is not run when the driver path
    # is given (below), and these make sure it would stay offline and quiet if it were.
    os.environ.setdefault("SE_OFFLINE", "true")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    workdir = tempfile.mkdtemp(prefix="horizon-login-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in chromium_arguments(allowed_host, os.path.join(workdir, "profile")):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {
        "safebrowsing.enabled": False,
        "search.suggest_enabled": False,
        "net.network_prediction_options": 2,
        "translate.enabled": False,
        "credentials_enable_service": False,
    })
    options.page_load_strategy = "normal"
    # chromedriver (and the browser it starts) get a clean environment: no proxy
    # variables, no API keys, a private HOME.
    env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8"}
    service = Service(executable_path=CHROMEDRIVER, env=env,
                      log_output=os.path.join(workdir, "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(timeout)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(workdir, ignore_errors=True)


def _text(driver, css):
    from selenium.webdriver.common.by import By
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text.strip() if found else ""


def _page_summary(driver):
    from selenium.webdriver.common.by import By
    body = driver.find_elements(By.TAG_NAME, "body")
    text = " ".join(body[0].text.split())[:300] if body else ""
    return f"at {driver.current_url} (title {driver.title!r}): {text!r}"


def _messages(driver, css=".alert"):
    from selenium.webdriver.common.by import By
    return [" ".join(e.text.split()) for e in driver.find_elements(By.CSS_SELECTOR, css) if e.text.strip()]


def _wait(driver, timeout, condition, what):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        raise HorizonCheckError(f"timed out after {timeout}s waiting for {what}, {_page_summary(driver)}") from None


def _save_artifacts(driver, directory):
    os.makedirs(directory, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    shot = os.path.join(directory, f"horizon-{stamp}.png")
    html = os.path.join(directory, f"horizon-{stamp}.html")
    driver.save_screenshot(shot)
    with open(html, "w") as f:
        f.write(driver.page_source)
    return shot, html


def check_instances_page(url, username, password, *, timeout=60, allow_error_messages=False,
                         artifacts_dir=None):
    """Log in to the dashboard at `url` and check the instances page of the user's project.

    Returns an InstancesPage; raises HorizonCheckError saying what went wrong.
    `allow_error_messages` accepts error messages shown on the instances page (for
    instance "Unable to retrieve instances" when Nova is down); by default they fail it.
    """
    from selenium.webdriver.common.by import By

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a dashboard URL: {url!r}")
    host = parts.hostname
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    base = url.rstrip("/")

    with browser(host, timeout=timeout) as driver:
        try:
            return _check(driver, base, username, password, timeout, allow_error_messages, By)
        except HorizonCheckError as exc:
            if artifacts_dir:
                shot, html = _save_artifacts(driver, artifacts_dir)
                raise HorizonCheckError(f"{exc} [screenshot {shot}, page {html}]") from None
            raise


def _check(driver, base, username, password, timeout, allow_error_messages, By):
    from selenium.common.exceptions import WebDriverException

    login_url = f"{base}/auth/login/"
    try:
        driver.get(login_url)
    except WebDriverException as exc:
        raise HorizonCheckError(f"cannot load the login page {login_url}: {exc.msg}") from None
    if not driver.find_elements(By.ID, "id_username"):
        raise HorizonCheckError(f"no login form on {login_url}, {_page_summary(driver)}")

    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(password)
    button = driver.find_elements(By.ID, "loginBtn")
    if button:
        button[0].click()
    else:
        driver.find_element(By.ID, "id_password").submit()

    # Either the login page goes away, or it comes back with an error.
    _wait(driver, timeout,
          lambda d: "/auth/login/" not in d.current_url or d.find_elements(By.CSS_SELECTOR, ".alert-danger, .error"),
          "the dashboard after submitting the login form")
    if "/auth/login/" in driver.current_url:
        errors = _messages(driver, ".alert-danger, .error") or ["(no message)"]
        raise HorizonCheckError(f"login as {username!r} refused: {'; '.join(errors)}")

    instances_url = f"{base}/project/instances/"
    driver.get(instances_url)
    _wait(driver, timeout, lambda d: d.execute_script("return document.readyState") == "complete",
          "the instances page to finish loading")
    path = urllib.parse.urlsplit(driver.current_url).path
    if "/auth/login/" in path:
        raise HorizonCheckError(
            f"logged in as {username!r}, but {instances_url} sent the browser back to the login page: "
            "the session was not kept (session/cache backend?)")
    if not path.rstrip("/").endswith("/project/instances"):
        raise HorizonCheckError(f"{instances_url} ended up elsewhere, {_page_summary(driver)}")

    title = driver.title
    heading = _text(driver, ".page-header h1") or _text(driver, "h1")
    tables = driver.find_elements(By.CSS_SELECTOR, "table#instances")
    problems = []
    if "Instances" not in title:
        problems.append(f"title is {title!r}, not the instances page's")
    if heading != "Instances":
        problems.append(f"page heading is {heading!r}, not 'Instances'")
    if not tables:
        problems.append("no instances table (table#instances)")
    if problems:
        raise HorizonCheckError(f"{instances_url}: {'; '.join(problems)}, {_page_summary(driver)}")

    # Horizon renders its messages after the page loads; give them a moment to appear.
    time.sleep(1)
    messages = _messages(driver, ".messages .alert, #main_content .alert")
    errors = _messages(driver, ".messages .alert-danger, #main_content .alert-danger")
    if errors and not allow_error_messages:
        raise HorizonCheckError(f"{instances_url} loaded with error messages: {'; '.join(errors)}")

    rows = tables[0].find_elements(By.CSS_SELECTOR, "tbody tr:not(.empty)")
    user = _text(driver, ".dropdown-toggle .user-name, #profile_editor_switcher .user-name, .user-name")
    project = _text(driver, ".context-project, #tenant_switcher .context-project")
    names = [r.get_attribute("data-display") or "" for r in rows]
    page = InstancesPage(url=driver.current_url, title=title, heading=heading, rows=len(rows),
                         instances=names, user=user, project=project, messages=messages)

    # End the session so it does not linger in the cache.
    with contextlib.suppress(WebDriverException):
        driver.get(f"{base}/auth/logout/")
    return page


def _password(args):
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise SystemExit(f"error: environment variable {args.password_env} is empty or unset")
        return value
    if os.environ.get("HORIZON_PASSWORD"):
        return os.environ["HORIZON_PASSWORD"]
    import yaml
    try:
        with open(args.secrets_file) as f:
            secrets = yaml.safe_load(f) or {}
    except OSError as exc:
        raise SystemExit(f"error: cannot read the secrets file: {exc}") from None
    if args.secret_name not in secrets:
        raise SystemExit(f"error: {args.secrets_file} has no {args.secret_name}")
    return str(secrets[args.secret_name])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="dashboard URL (default %(default)s)")
    parser.add_argument("--user", default="demo", help="user name (default %(default)s)")
    parser.add_argument("--password-env", metavar="NAME",
                        help="read the password from this environment variable")
    parser.add_argument("--secrets-file", default=DEFAULT_SECRETS,
                        help="otherwise from this secrets file (default %(default)s)")
    parser.add_argument("--secret-name", default="keystone_demo_password",
                        help="key of the password in the secrets file (default %(default)s)")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per page (default %(default)s)")
    parser.add_argument("--allow-error-messages", action="store_true",
                        help="accept error messages on the instances page (e.g. Nova down)")
    parser.add_argument("--artifacts", metavar="DIR",
                        help="on failure, save a screenshot and the page source here")
    args = parser.parse_args(argv)
    password = _password(args)
    try:
        page = check_instances_page(args.url, args.user, password, timeout=args.timeout,
                                    allow_error_messages=args.allow_error_messages,
                                    artifacts_dir=args.artifacts)
    except HorizonCheckError as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    print(f"OK: logged in to {args.url} as {args.user!r}; {page.url} has title {page.title!r}, "
          f"heading {page.heading!r}, instances table with {page.rows} row(s) {page.instances}; "
          f"user shown {page.user!r}, project {page.project!r}")
    for message in page.messages:
        print(f"  message: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
