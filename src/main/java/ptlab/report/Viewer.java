package ptlab.report;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import ptlab.engine.Explorer;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.Schedule;
import ptlab.engine.TraceRecorder;
import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.tools.Scenarios;
import ptlab.tools.TranslationExplorer;

/**
 * {@code ptlab serve}: the local viewer, on the JDK's built-in HTTP server bound to 127.0.0.1.
 * The page (HTML/CSS/JS from the jar's resources, nothing fetched from the network) is a thin
 * view over JSON endpoints:
 * <pre>
 *   GET /                         the viewer page (also /viewer.js, /viewer.css)
 *   GET /api/modes                the paging modes and each one's sample mappings
 *   GET /api/translate?mode=M&amp;va=0x…&amp;access=read|write|fetch&amp;user=0|1
 *                                 one access by that mode's CPU: levels, entries, fault or pa, TLB
 *   GET /api/tlb?mode=M&amp;op=cr3|invlpg&amp;va=0x…   flush that CPU's TLB
 *   GET /api/schedules            the schedules found under the data directory
 *   GET /api/schedule?name=N      one of them replayed: the steps, per CPU, and the violation
 *   GET /report                   the HTML report of the data directory
 * </pre>
 * Every other path is 404; a path with a ".." segment, raw or percent-encoded, is 400. Files are
 * served only by name from the listing of the data directory (never by a path from the
 * request), so nothing outside it can be read. Requests run one at a time: the translation
 * explorers keep TLB state, and a replay is cheap.
 */
public final class Viewer implements AutoCloseable {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final Map<String, String> STATIC = Map.of(
            "/", "index.html", "/index.html", "index.html", "/viewer.js", "viewer.js", "/viewer.css", "viewer.css");

    private final Path dataDir;
    private final HttpServer server;
    private final ExecutorService executor;
    /** Per viewer, not global: two viewers in one JVM (the tests) keep separate CPUs and TLBs. */
    private final Map<PagingMode, TranslationExplorer> cpus = new EnumMap<>(PagingMode.class);

    private Viewer(Path dataDir, HttpServer server) {
        this.dataDir = dataDir;
        this.server = server;
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "ptlab-serve");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", this::handle);
    }

    /** Starts serving {@code dataDir} on 127.0.0.1:{@code port} (0: a free port, see {@link #port()}). */
    public static Viewer start(int port, Path dataDir) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
        Viewer v = new Viewer(dataDir.toAbsolutePath().normalize(), s);
        s.start();
        return v;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public String url() {
        return "http://127.0.0.1:" + port() + "/";
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    /** A request the viewer refuses: the status (4xx) and a message for the page. */
    static final class BadRequest extends RuntimeException {
        final int status;

        BadRequest(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            try {
                if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
                    throw new BadRequest(405, "only GET is served");
                }
                URI uri = ex.getRequestURI();
                String raw = uri.getRawPath();
                String path = URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
                if (hasDotDot(raw) || hasDotDot(path) || path.contains("\\") || path.indexOf('\0') >= 0) {
                    throw new BadRequest(400, "path traversal refused: " + raw);
                }
                Map<String, String> q = query(uri.getRawQuery());
                switch (path) {
                    case "/api/modes" -> json(ex, modes());
                    case "/api/translate" -> json(ex, translate(q));
                    case "/api/tlb" -> json(ex, tlb(q));
                    case "/api/schedules" -> json(ex, schedules());
                    case "/api/schedule" -> json(ex, schedule(q));
                    case "/report" -> send(ex, 200, "text/html; charset=utf-8", report());
                    default -> {
                        String res = STATIC.get(path);
                        if (res == null) {
                            throw new BadRequest(404, "no such page: " + path);
                        }
                        send(ex, 200, contentType(res), resource(res));
                    }
                }
            } catch (BadRequest e) {
                ObjectNode o = MAPPER.createObjectNode();
                o.put("error", e.getMessage());
                send(ex, e.status, "application/json", MAPPER.writeValueAsBytes(o));
            } catch (RuntimeException e) {
                ObjectNode o = MAPPER.createObjectNode();
                o.put("error", "internal error: " + e);
                send(ex, 500, "application/json", MAPPER.writeValueAsBytes(o));
            }
        }
    }

    static boolean hasDotDot(String path) {
        for (String seg : path.split("[/\\\\]")) {
            if (seg.equals("..") || seg.equalsIgnoreCase("%2e%2e") || seg.equalsIgnoreCase(".%2e")
                    || seg.equalsIgnoreCase("%2e.")) {
                return true;
            }
        }
        return false;
    }

    // ---- translation explorer -------------------------------------------------------------

    private ObjectNode modes() {
        ObjectNode o = MAPPER.createObjectNode();
        ArrayNode ms = o.putArray("modes");
        for (PagingMode m : PagingMode.values()) {
            ObjectNode mo = ms.addObject();
            mo.put("mode", m.cliName());
            mo.put("levels", m.levels());
            ArrayNode maps = mo.putArray("mappings");
            for (TranslationExplorer.Mapping mp : cpu(m).mappings()) {
                maps.addObject().put("va", hex(mp.va())).put("pa", hex(mp.pa())).put("size", mp.size())
                        .put("what", mp.what());
            }
        }
        return o;
    }

    private TranslationExplorer cpu(PagingMode m) {
        return cpus.computeIfAbsent(m, TranslationExplorer::new);
    }

    private static PagingMode mode(Map<String, String> q) {
        String m = required(q, "mode");
        try {
            return PagingMode.fromCliName(m);
        } catch (IllegalArgumentException e) {
            throw new BadRequest(400, "unknown mode '" + m + "' (x86-32, x86-32-pae, x86-64, x86-64-la57)");
        }
    }

    static long address(String s) {
        String t = s.strip().toLowerCase().replace("_", "");
        try {
            if (t.startsWith("0x")) {
                if (t.length() > 18 || t.length() == 2) {
                    throw new NumberFormatException();
                }
                return Long.parseUnsignedLong(t.substring(2), 16);
            }
            return Long.parseUnsignedLong(t);
        } catch (NumberFormatException e) {
            throw new BadRequest(400, "malformed address '" + s + "': give 0x followed by up to 16 hex digits, "
                    + "or a decimal number");
        }
    }

    private ObjectNode translate(Map<String, String> q) {
        PagingMode m = mode(q);
        long va = address(required(q, "va"));
        AccessType access = switch (q.getOrDefault("access", "read")) {
            case "read" -> AccessType.READ;
            case "write" -> AccessType.WRITE;
            case "fetch" -> AccessType.FETCH;
            default -> throw new BadRequest(400, "access must be read, write or fetch, not '" + q.get("access") + "'");
        };
        boolean user = switch (q.getOrDefault("user", "1")) {
            case "1", "true" -> true;
            case "0", "false" -> false;
            default -> throw new BadRequest(400, "user must be 0 or 1, not '" + q.get("user") + "'");
        };
        TranslationExplorer.Result r;
        try {
            r = cpu(m).translate(va, access, user);
        } catch (IllegalArgumentException e) {
            throw new BadRequest(400, e.getMessage());
        }
        ObjectNode o = MAPPER.createObjectNode();
        o.put("mode", m.cliName());
        o.put("va", hex(va));
        o.put("access", access.name().toLowerCase());
        o.put("user", user ? 1 : 0);
        o.put("tlb_hit", r.tlbHit());
        ArrayNode levels = o.putArray("levels");
        for (TranslationExplorer.Level l : r.levels()) {
            levels.addObject().put("level", l.level()).put("name", l.name()).put("hardware_name", l.hardwareName())
                    .put("index", l.index()).put("entry_address", hex(l.entryAddress())).put("entry", hex(l.entry()))
                    .put("bits", l.bits()).put("leaf", l.leaf());
        }
        o.put("fault", r.fault() ? 1 : 0);
        if (r.fault()) {
            o.put("exception", r.exception());
            o.put("error_code", r.errorCode());
            o.put("error_code_hex", String.format("0x%x", r.errorCode()));
            o.put("error", r.errorText());
        } else {
            o.put("pa", hex(r.pa()));
            o.put("page_size", r.pageSize());
        }
        ObjectNode tlb = o.putObject("tlb");
        tlb.put("hits", r.hits()).put("misses", r.misses()).put("walks", r.walks());
        ArrayNode lines = tlb.putArray("entries");
        for (TranslationExplorer.TlbLine t : r.tlb()) {
            lines.addObject().put("page", hex(t.page())).put("page_size", t.pageSize()).put("frame", hex(t.frame()))
                    .put("dirty", t.dirty()).put("global", t.global());
        }
        return o;
    }

    private ObjectNode tlb(Map<String, String> q) {
        PagingMode m = mode(q);
        String op = required(q, "op");
        switch (op) {
            case "cr3" -> cpu(m).reloadCr3();
            case "invlpg" -> cpu(m).invlpg(address(required(q, "va")));
            default -> throw new BadRequest(400, "op must be cr3 or invlpg, not '" + op + "'");
        }
        return MAPPER.createObjectNode().put("mode", m.cliName()).put("done", op);
    }

    // ---- schedule viewer ------------------------------------------------------------------

    /** The schedules under the data directory, by their path relative to it: the only names /api/schedule takes. */
    private Map<String, ReportInputs.Found> scheduleFiles() {
        Map<String, ReportInputs.Found> out = new LinkedHashMap<>();
        try {
            for (ReportInputs.Found f : ReportInputs.scan(List.of(dataDir)).schedules()) {
                out.put(dataDir.relativize(f.file().toAbsolutePath().normalize()).toString().replace('\\', '/'), f);
            }
        } catch (IOException | IllegalArgumentException e) {
            throw new BadRequest(404, "cannot read the data directory " + dataDir + ": " + e.getMessage());
        }
        return out;
    }

    private ObjectNode schedules() {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("data", dataDir.toString());
        ArrayNode a = o.putArray("schedules");
        scheduleFiles().forEach((name, f) -> a.addObject().put("name", name)
                .put("scenario", f.json().path("scenario").asText()).put("variant", f.json().path("variant").asText())
                .put("violation", f.json().path("violation").asText(null)));
        return o;
    }

    private ObjectNode schedule(Map<String, String> q) {
        String name = required(q, "name");
        ReportInputs.Found f = scheduleFiles().get(name);
        if (f == null) {
            throw new BadRequest(404, "unknown schedule '" + name + "' (see /api/schedules)");
        }
        Schedule sch;
        Scenario sc;
        String variant;
        try {
            sch = Schedule.load(f.file());
            sc = Scenarios.byName(sch.scenario());
            variant = sc.variant(sch.variant()).name();
        } catch (IOException | IllegalArgumentException e) {
            throw new BadRequest(400, name + ": " + e.getMessage());
        }
        TraceRecorder trace = new TraceRecorder();
        Machine m = Explorer.replay(sc, variant, sch.choices(), 100_000, trace);
        ObjectNode o = MAPPER.createObjectNode();
        o.put("name", name);
        o.put("scenario", sc.name());
        o.put("variant", variant);
        o.put("description", sc.description());
        int cpus = 0;
        ArrayNode steps = o.putArray("steps");
        ObjectNode last = null;
        for (TraceRecorder.Line l : trace.lines()) {
            cpus = Math.max(cpus, l.cpu() + 1);
            if (l.step() >= 0 || last == null) {
                last = steps.addObject();
                last.put("step", l.step());
                last.put("cpu", l.cpu());
                last.put("op", l.op());
                last.put("addr", hex(l.addr()));
                last.put("text", l.text());
                last.putArray("notes");
            } else {
                ((ArrayNode) last.get("notes")).add("CPU" + l.cpu() + ": " + l.text());
            }
        }
        o.put("cpus", cpus);
        o.put("violation", m.violation() == null ? null : m.violation().describe());
        o.set("meta", f.json().get("meta"));
        return o;
    }

    // ---- report and plumbing --------------------------------------------------------------

    private byte[] report() {
        try {
            ReportInputs in = ReportInputs.scan(List.of(dataDir));
            if (in.isEmpty()) {
                throw new BadRequest(404, "no ptlab results under " + dataDir);
            }
            return HtmlReport.render(in, PlotRegistry.standard()).html().getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new BadRequest(404, "cannot read the data directory " + dataDir + ": " + e.getMessage());
        }
    }

    private static String required(Map<String, String> q, String key) {
        String v = q.get(key);
        if (v == null || v.isBlank()) {
            throw new BadRequest(400, "missing query parameter '" + key + "'");
        }
        return v;
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> q = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return q;
        }
        for (String kv : raw.split("&")) {
            int eq = kv.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
            if (q.put(k, v) != null) {
                throw new BadRequest(400, "query parameter '" + k + "' given twice");
            }
        }
        return q;
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = Viewer.class.getResourceAsStream("/ptlab/viewer/" + name)) {
            if (in == null) {
                throw new IllegalStateException("resource /ptlab/viewer/" + name + " missing from the jar");
            }
            return in.readAllBytes();
        }
    }

    private static String contentType(String name) {
        return name.endsWith(".js") ? "text/javascript; charset=utf-8"
                : name.endsWith(".css") ? "text/css; charset=utf-8" : "text/html; charset=utf-8";
    }

    private static void json(HttpExchange ex, ObjectNode o) throws IOException {
        send(ex, 200, "application/json", MAPPER.writeValueAsBytes(o));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : body.length);
        if (!head) {
            try (OutputStream os = ex.getResponseBody()) {
                os.write(body);
            }
        }
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    /** Whether {@code dir} is a directory the viewer can list (checked before binding). */
    public static boolean readableDir(Path dir) {
        return Files.isDirectory(dir) && Files.isReadable(dir);
    }
}
