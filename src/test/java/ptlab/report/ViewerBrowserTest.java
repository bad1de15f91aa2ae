package ptlab.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import ptlab.engine.Explorer;
import ptlab.engine.Scenario;
import ptlab.tools.Scenarios;

/**
 * The viewer end to end in headless Chromium: Debian's {@code chromium} driven through Debian's
 * {@code chromium-driver} by Selenium. Both paths are given, so Selenium Manager never runs and
 * nothing is downloaded. Where the browser is not installed the tests are skipped, saying so
 * ({@code .ci/run} installs it).
 */
class ViewerBrowserTest {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    @TempDir
    static Path tmp;

    static Viewer viewer;
    static WebDriver driver;
    static ChromeDriverService service;

    @BeforeAll
    static void startViewerAndBrowser() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "browser tests skipped: " + CHROMIUM + " or " + CHROMEDRIVER + " is not installed "
                        + "(apt-get install -y chromium chromium-driver; .ci/run does this)");
        // the demo's schedule: section 6 of ptlab demo runs exactly this search and saves its result
        Scenario sc = Scenarios.byName("vmalloc-sync-race");
        Explorer.Summary s = Explorer.explore(sc, sc.variant(null).name(),
                new Explorer.Settings("random", 1, 1000, 2, 100_000, 0, 1), () -> false, null);
        s.schedule().save(tmp.resolve("schedule-vmalloc-sync-race.json"));
        viewer = Viewer.start(0, tmp);
        System.setProperty("webdriver.chrome.driver", CHROMEDRIVER.toString());   // no Selenium Manager lookup
        service = new ChromeDriverService.Builder().usingDriverExecutable(new File(CHROMEDRIVER.toString()))
                .usingAnyFreePort().build();
        ChromeOptions o = new ChromeOptions();
        o.setBinary(CHROMIUM.toFile());
        o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1300,900", "--no-first-run", "--disable-extensions");
        driver = new ChromeDriver(service, o);
        driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(60));
    }

    @AfterAll
    static void stop() {
        if (driver != null) {
            driver.quit();
        }
        if (service != null) {
            service.stop();
        }
        if (viewer != null) {
            viewer.close();
        }
    }

    private static WebDriverWait waitUpTo(int seconds) {
        return new WebDriverWait(driver, Duration.ofSeconds(seconds));
    }

    @Test
    void stepsTheDemoScheduleToItsViolation() {
        driver.get(viewer.url());
        driver.findElement(By.id("tab-schedule")).click();
        waitUpTo(30).until(d -> !new Select(d.findElement(By.id("schedule-list"))).getOptions().isEmpty());
        new Select(driver.findElement(By.id("schedule-list"))).selectByValue("schedule-vmalloc-sync-race.json");
        driver.findElement(By.id("load")).click();
        WebElement pos = waitUpTo(60).until(ExpectedConditions.visibilityOfElementLocated(By.id("step-pos")));
        waitUpTo(30).until(d -> pos.getText().startsWith("step 0 of "));
        int steps = Integer.parseInt(pos.getText().replace("step 0 of ", ""));
        assertTrue(steps > 10, pos.getText());
        // one column per CPU, after the step number
        List<WebElement> head = driver.findElements(By.cssSelector("#trace thead th"));
        assertEquals(List.of("step", "CPU0", "CPU1"), head.stream().map(WebElement::getText).toList());
        WebElement violation = driver.findElement(By.id("violation"));
        assertFalse(violation.isDisplayed(), "no violation before the end");
        driver.findElement(By.id("step-next")).click();
        driver.findElement(By.id("step-next")).click();
        assertEquals("step 2 of " + steps, pos.getText());
        driver.findElement(By.id("step-prev")).click();
        assertEquals("step 1 of " + steps, pos.getText());
        assertFalse(violation.isDisplayed());
        driver.findElement(By.id("step-last")).click();
        assertEquals("step " + steps + " of " + steps, pos.getText());
        assertTrue(violation.isDisplayed(), "the violation is shown at the end");
        assertTrue(violation.getText().startsWith("violation: invariant 4"), violation.getText());
        assertEquals(1, driver.findElements(By.cssSelector("#trace tr.violation-step")).size());
        // the entries involved are shown with their bits
        assertFalse(driver.findElements(By.cssSelector("#trace .bits span")).isEmpty());
    }

    @Test
    void translatesATypedAddress() {
        driver.get(viewer.url());
        waitUpTo(30).until(d -> !new Select(d.findElement(By.id("mode"))).getOptions().isEmpty());
        new Select(driver.findElement(By.id("mode"))).selectByValue("x86-64");
        WebElement va = driver.findElement(By.id("va"));
        va.clear();
        va.sendKeys("0x603000");
        new Select(driver.findElement(By.id("access"))).selectByValue("write");
        driver.findElement(By.id("translate")).click();
        WebElement code = waitUpTo(30).until(ExpectedConditions.visibilityOfElementLocated(By.id("error-code")));
        assertEquals("0x7", code.getText(), "user write to a read-only page: P|W|U");
        List<String> idx = driver.findElements(By.cssSelector("#levels td.index")).stream().map(WebElement::getText).toList();
        assertEquals(List.of("0", "0", "3", "3"), idx, "pgd, pud, pmd, pte indices of 0x603000");
        assertTrue(driver.findElement(By.id("fault")).getText().contains("protection write user"));

        va.clear();
        va.sendKeys("0xzz");
        driver.findElement(By.id("translate")).click();
        WebElement err = waitUpTo(30).until(ExpectedConditions.visibilityOfElementLocated(By.id("translate-error")));
        assertTrue(err.getText().contains("malformed address '0xzz'"), err.getText());
    }

    @Test
    void pathTraversalIsRefused() throws Exception {
        // the browser normalises "/../" itself, so the raw request goes through an HTTP client
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(viewer.url() + "%2e%2e/pom.xml")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, r.statusCode());
        driver.get(viewer.url() + "..%2fpom.xml");
        assertTrue(driver.getPageSource().contains("path traversal refused"), driver.getPageSource());
        assertFalse(driver.getPageSource().contains("<artifactId>"));
    }
}
