package ptlab.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import ptlab.engine.Explorer;
import ptlab.engine.Scenario;
import ptlab.tools.Scenarios;

/** {@code ptlab serve}'s endpoints over real HTTP: translations, schedules, the report, and refusals. */
class ViewerTest {

    @TempDir
    Path tmp;

    private Viewer viewer;
    private Path data;
    private final HttpClient http = HttpClient.newHttpClient();
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @BeforeEach
    void start() throws IOException {
        data = tmp.resolve("data");
        Files.createDirectories(data.resolve("runs"));
        Files.writeString(tmp.resolve("secret.txt"), "outside the data directory");
        Scenario sc = Scenarios.byName("vmalloc-sync-race");
        Explorer.Summary s = Explorer.explore(sc, sc.variant(null).name(),
                new Explorer.Settings("random", 1, 1000, 2, 100_000, 0, 1), () -> false, null);
        s.schedule().save(data.resolve("runs/race.json"));
        viewer = Viewer.start(0, data);
    }

    @AfterEach
    void stop() {
        viewer.close();
    }

    private HttpResponse<String> get(String pathAndQuery) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(viewer.url() + pathAndQuery.substring(1))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode json(String pathAndQuery, int status) throws Exception {
        HttpResponse<String> r = get(pathAndQuery);
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        return MAPPER.readTree(r.body());
    }

    /** The status line for a raw request path, sent byte for byte (no client normalises it). */
    private int rawStatus(String rawPath) throws IOException {
        try (Socket s = new Socket("127.0.0.1", viewer.port())) {
            OutputStream o = s.getOutputStream();
            o.write(("GET " + rawPath + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            o.flush();
            InputStream in = s.getInputStream();
            String all = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            assertFalse(all.contains("outside the data directory") || all.contains("<artifactId>"), all);
            return Integer.parseInt(all.split(" ", 3)[1]);
        }
    }

    @Test
    void bindsTheLoopbackAddressOnAFreePort() {
        assertTrue(viewer.port() > 0);
        assertTrue(viewer.url().startsWith("http://127.0.0.1:"));
    }

    @Test
    void servesThePageAndItsScriptFromTheJar() throws Exception {
        HttpResponse<String> page = get("/");
        assertEquals(200, page.statusCode());
        assertTrue(page.body().contains("<script src=\"/viewer.js\">"));
        assertFalse(page.body().contains("http://") || page.body().contains("https://"), "nothing from the network");
        HttpResponse<String> js = get("/viewer.js");
        assertEquals(200, js.statusCode());
        assertTrue(js.body().contains("'/api/translate?'"));
        assertFalse(js.body().contains("http://") || js.body().contains("https://"));
    }

    @Test
    void translatesThroughTheWalkerAndKeepsTheTlb() throws Exception {
        JsonNode r = json("/api/translate?mode=x86-64&va=0x601000&access=write&user=1", 200);
        assertEquals(0, r.path("fault").asInt());
        assertEquals("0x101000", r.path("pa").asText());
        assertEquals(4, r.path("levels").size());
        int[] idx = {0, 0, 3, 1};
        for (int i = 0; i < 4; i++) {
            assertEquals(idx[i], r.path("levels").get(i).path("index").asInt());
        }
        assertEquals("P RW US A D NX", r.path("levels").get(3).path("bits").asText(), "the write set A and D");
        assertFalse(r.path("tlb_hit").asBoolean());
        JsonNode again = json("/api/translate?mode=x86-64&va=0x601008&access=read&user=1", 200);
        assertTrue(again.path("tlb_hit").asBoolean());
        assertEquals(1, again.path("tlb").path("hits").asInt());
        assertEquals("0x601000", again.path("tlb").path("entries").get(0).path("page").asText());

        JsonNode rofault = json("/api/translate?mode=x86-32&va=0x603000&access=write&user=1", 200);
        assertEquals(1, rofault.path("fault").asInt());
        assertEquals(7, rofault.path("error_code").asInt(), "P|W|U: a user write to a read-only page");
        assertEquals(1, rofault.path("levels").get(0).path("index").asInt());
        assertEquals(0x203, rofault.path("levels").get(1).path("index").asInt());

        JsonNode unmapped = json("/api/translate?mode=x86-32-pae&va=0x7000&access=read&user=0", 200);
        assertEquals(0, unmapped.path("error_code").asInt(), "not present, read, supervisor");
        assertEquals("not-present read supervisor", unmapped.path("error").asText());

        JsonNode kernel = json("/api/translate?mode=x86-64-la57&va=0xffff888000100000&access=read&user=1", 200);
        assertEquals(5, kernel.path("error_code").asInt(), "P|U: user read of a supervisor page");

        JsonNode nonCanonical = json("/api/translate?mode=x86-64&va=0x0000800000000000", 200);
        assertEquals("#GP", nonCanonical.path("exception").asText());

        json("/api/tlb?mode=x86-64&op=cr3", 200);
        assertFalse(json("/api/translate?mode=x86-64&va=0x601000", 200).path("tlb_hit").asBoolean(),
                "CR3 reload dropped the non-global entry");
    }

    @Test
    void badTranslationRequestsAre400WithAMessage() throws Exception {
        assertTrue(json("/api/translate?mode=x86-64&va=0xzz", 400).path("error").asText().contains("malformed address '0xzz'"));
        assertTrue(json("/api/translate?mode=arm64&va=0x1000", 400).path("error").asText().contains("unknown mode 'arm64'"));
        assertTrue(json("/api/translate?mode=x86-64", 400).path("error").asText().contains("missing query parameter 'va'"));
        assertTrue(json("/api/translate?mode=x86-32&va=0x100000000", 400).path("error").asText().contains("32-bit"));
        assertTrue(json("/api/translate?mode=x86-64&va=0x1&access=jump", 400).path("error").asText().contains("access"));
        assertTrue(json("/api/translate?mode=x86-64&va=0x1&va=0x2", 400).path("error").asText().contains("twice"));
        assertTrue(json("/api/translate?mode=x86-64&va=0x11112222333344445", 400).path("error").asText().contains("malformed"));
    }

    @Test
    void replaysASchedulePerCpuEndingInItsViolation() throws Exception {
        JsonNode list = json("/api/schedules", 200);
        assertEquals("runs/race.json", list.path("schedules").get(0).path("name").asText());
        JsonNode s = json("/api/schedule?name=runs/race.json", 200);
        assertEquals("vmalloc-sync-race", s.path("scenario").asText());
        assertEquals(2, s.path("cpus").asInt());
        assertTrue(s.path("steps").size() > 10);
        assertTrue(s.path("violation").asText().startsWith("invariant 4"), s.path("violation").asText());
        boolean entryWithBits = false;
        for (JsonNode st : s.path("steps")) {
            entryWithBits |= st.path("text").asText().matches("pgd 0x[0-9a-f]+: 0x0 \\[np\\] -> 0x[0-9a-f]+ \\[P RW.*");
        }
        assertTrue(entryWithBits, "page-table entries are shown with their bits");
        assertTrue(json("/api/schedule?name=nope.json", 404).path("error").asText().contains("unknown schedule 'nope.json'"));
    }

    @Test
    void nothingOutsideTheDataDirectoryIsEverServed() throws Exception {
        for (String p : new String[] {"/../pom.xml", "/%2e%2e/pom.xml", "/%2E%2E/pom.xml", "/..%2fpom.xml",
            "/.%2e/secret.txt", "/runs/../../secret.txt", "/..\\secret.txt", "/%2e%2e%5csecret.txt"}) {
            int status = rawStatus(p);
            assertEquals(400, status, p);
        }
        assertEquals(404, rawStatus("/pom.xml"));
        assertEquals(404, rawStatus("/runs/race.json"), "data files are not served by path");
        assertEquals(404, rawStatus("/api/schedule?name=../secret.txt"));
        assertEquals(404, rawStatus("/api/schedule?name=/etc/passwd"));
        assertEquals(404, rawStatus("/api/schedule?name=%2e%2e%2fsecret.txt"));
    }

    @Test
    void servesTheReportOfTheDataDirectory() throws Exception {
        HttpResponse<String> r = get("/report");
        assertEquals(200, r.statusCode());
        assertTrue(r.body().contains("<table id=\"table-schedules\">"), r.body());
    }
}
