package ptlab.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import ptlab.hw.AccessType;
import ptlab.hw.PageFaultError;
import ptlab.hw.PagingMode;
import ptlab.tools.MmuProbe;

/** {@code ptlab mmu …}: direct questions to the simulated MMU. */
@Command(name = "mmu", mixinStandardHelpOptions = true,
        description = "Ask the simulated MMU directly.",
        footer = {"", "Example:", "  ptlab mmu probe < requests.jsonl"},
        subcommands = {MmuCommand.Probe.class})
public final class MmuCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "probe", mixinStandardHelpOptions = true,
            description = {
                    "Reads translation requests as JSON Lines on stdin and writes one result a line, in order.",
                    "Each request builds one walk path in fresh memory (tables from 0x1000, page at 0x40000000):",
                    "  {\"arch\":\"x86-64\", \"cpu\":{\"wp\":1,\"nxe\":1,\"smep\":0,\"smap\":0,\"ac\":0,\"pke\":0,\"pkru\":0},",
                    "   \"va\":\"0x7f0000201000\", \"access\":\"read|write|fetch\", \"user\":1, \"implicit\":0,",
                    "   \"path\":[{\"p\":1,\"rw\":1,\"us\":1,\"a\":0,\"d\":0,\"ps\":0,\"nx\":0,\"pkey\":0,\"rsvd\":[]}, …]}",
                    "Result: {\"fault\":0|1, \"error_code\":N, \"pa\":\"0x…\", \"page_size\":N, \"a\":[…], \"d\":0|1}.",
                    "A request that cannot be built is answered {\"error\":\"…\"} and the stream goes on; so is an "
                            + "empty line: output line N always answers input line N.",
                    "Refused: va outside 0..2^64-1 (or 2^32-1 on x86-32), duplicate keys, unknown keys, text after "
                            + "the object, numbers where 0/1 flags belong.",
                    "Input is UTF-8 JSON Lines; a line of bytes that are not UTF-8 is answered as malformed."},
            footer = {"", "Examples:",
                    "  echo '{\"arch\":\"x86-64\",\"va\":\"0x1000\",\"path\":[{\"p\":1},{\"p\":1},{\"p\":1},{\"p\":1}]}' | ptlab mmu probe",
                    "  ptlab mmu probe --format text < requests.jsonl"})
    static final class Probe implements java.util.concurrent.Callable<Integer> {

        @Option(names = "--format", defaultValue = "json",
                description = "json (default: one JSON object a line) or text (one readable line each)")
        OutputFormat format;

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                int lineNo = 0;
                while ((line = in.readLine()) != null) {
                    lineNo++;
                    out.println(line.isBlank() ? error("empty line", format) : answer(line, format));
                    if (out.checkError()) {   // stdout is gone (closed pipe, full disk): stop reading
                        return Ptlab.EXIT_BAD_INPUT;   // Ptlab.run names the reason
                    }
                }
                out.flush();
            } catch (IOException e) {
                throw new UsageException("cannot read stdin: " + CliFiles.describe(e));
            }
            return Ptlab.EXIT_OK;
        }
    }

    /** The answer line for one request line, in {@code format}. Never throws for bad input. */
    static String answer(String line, OutputFormat format) {
        MmuProbe.Result r;
        try {
            MmuProbe.Request req = UsageException.userInput(() -> parseRequest(line));
            r = MmuProbe.run(req);
        } catch (MmuProbe.BadRequest | UsageException e) {
            return error(e.getMessage(), format);
        }
        return format == OutputFormat.text ? toText(r) : Json.write(toJson(r));
    }

    /** The answer to a line that is not a request. */
    static String error(String message, OutputFormat format) {
        if (format == OutputFormat.text) {
            return "error: " + message;
        }
        ObjectNode err = Json.object();
        err.put("error", message);
        return Json.write(err);
    }

    static ObjectNode toJson(MmuProbe.Result r) {
        ObjectNode o = Json.object();
        o.put("fault", r.fault() ? 1 : 0);
        if (r.fault()) {
            o.put("error_code", r.errorCode());
            o.put("exception", r.exception());
            if (r.faultEntry() != null) {
                o.put("fault_entry", r.faultEntry());
            }
            if (r.gpAtCr3Load()) {
                o.put("cr3_load_failed", 1);
            }
        } else {
            o.put("pa", Json.hex(r.pa()));
            o.put("page_size", r.pageSize());
        }
        ArrayNode a = o.putArray("a");
        for (int bit : r.accessed()) {
            a.add(bit);
        }
        o.put("d", r.dirty());
        return o;
    }

    static String toText(MmuProbe.Result r) {
        StringBuilder sb = new StringBuilder();
        if (r.fault()) {
            if (r.gpAtCr3Load()) {
                sb.append("#GP(0) at CR3 load: reserved bit in a present PDPTE");
            } else if ("#GP".equals(r.exception())) {
                sb.append("#GP(0): non-canonical address");
            } else {
                sb.append(String.format("#PF error_code=0x%x (%s) at %s", r.errorCode(),
                        PageFaultError.describe(r.errorCode()), r.faultEntry()));
            }
        } else {
            sb.append(String.format("pa=0x%x page_size=%s", r.pa(), sizeName(r.pageSize())));
        }
        sb.append(" A=").append(java.util.Arrays.toString(r.accessed())).append(" D=").append(r.dirty());
        return sb.toString();
    }

    static String sizeName(long bytes) {
        if (bytes >= 1L << 30 && bytes % (1L << 30) == 0) return (bytes >> 30) + "G";
        if (bytes >= 1L << 20 && bytes % (1L << 20) == 0) return (bytes >> 20) + "M";
        if (bytes >= 1L << 10 && bytes % (1L << 10) == 0) return (bytes >> 10) + "K";
        return Long.toString(bytes);
    }

    private static final Set<String> REQUEST_KEYS = Set.of("arch", "cpu", "va", "access", "user", "implicit", "path");
    private static final Set<String> CPU_KEYS = Set.of("wp", "nxe", "smep", "smap", "ac", "pke", "pkru", "pcide",
            "maxphyaddr");
    private static final Set<String> ENTRY_KEYS = Set.of("p", "rw", "us", "a", "d", "ps", "nx", "pkey", "rsvd",
            "pwt", "pcd", "g");

    /**
     * One request is one JSON object: a key given twice, or text after the object, is refused.
     * In a holder: other commands use this class's helpers ({@link #sizeName}) without a mapper.
     */
    private static final class Strict {
        static final com.fasterxml.jackson.databind.ObjectReader READER = Json.mapper().reader()
                .with(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .with(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }

    /** What is wrong with a line, in our words with its column, not the parser's. */
    private static String jsonError(JsonProcessingException e) {
        String m = String.valueOf(e.getOriginalMessage());
        long col = e.getLocation() == null ? -1 : e.getLocation().getColumnNr();
        String at = col > 0 ? " at column " + col : "";
        if (m.startsWith("Duplicate field")) {
            return "duplicate key " + m.substring("Duplicate field".length()).strip() + at
                    + ": a request gives each key once";
        }
        if (m.startsWith("Trailing token")) {
            return "text after the JSON object" + at + ": one request a line";
        }
        if (m.contains("end-of-input")) {
            return "malformed JSON: the line ends inside the object";
        }
        if (m.contains("Invalid UTF-8") || m.contains("Invalid character")) {
            return "malformed JSON" + at + ": not UTF-8 text";
        }
        return "malformed JSON" + at;
    }

    static MmuProbe.Request parseRequest(String line) {
        JsonNode root;
        try {
            root = Strict.READER.readTree(line);
        } catch (JsonProcessingException e) {
            throw new MmuProbe.BadRequest(jsonError(e));
        }
        if (root == null || !root.isObject()) {
            throw new MmuProbe.BadRequest("a request must be a JSON object");
        }
        checkKeys(root, REQUEST_KEYS, "request");
        if (!root.hasNonNull("arch")) {
            throw new MmuProbe.BadRequest("missing \"arch\"");
        }
        PagingMode mode = PagingMode.fromCliName(root.get("arch").asText());
        JsonNode cpuNode = root.path("cpu");
        if (!cpuNode.isMissingNode() && !cpuNode.isObject()) {
            throw new MmuProbe.BadRequest("\"cpu\" must be an object");
        }
        checkKeys(cpuNode, CPU_KEYS, "cpu");
        MmuProbe.Cpu cpu = new MmuProbe.Cpu(
                flag(cpuNode, "wp"), flag(cpuNode, "nxe"), flag(cpuNode, "smep"), flag(cpuNode, "smap"),
                flag(cpuNode, "ac"), flag(cpuNode, "pke"), (int) number(cpuNode, "pkru", 0, 0xFFFF_FFFFL),
                flag(cpuNode, "pcide"),
                cpuNode.has("maxphyaddr") ? (int) number(cpuNode, "maxphyaddr", 32, 52) : null);
        if (!root.hasNonNull("va")) {
            throw new MmuProbe.BadRequest("missing \"va\"");
        }
        long va = address(root.get("va"), "va");
        AccessType access = AccessType.fromName(root.path("access").asText("read"));
        JsonNode pathNode = root.path("path");
        if (!pathNode.isMissingNode() && !pathNode.isArray()) {
            throw new MmuProbe.BadRequest("\"path\" must be an array of entries");
        }
        List<MmuProbe.Entry> path = new ArrayList<>();
        for (JsonNode en : pathNode) {
            if (!en.isObject()) {
                throw new MmuProbe.BadRequest("path entry " + path.size() + " must be an object");
            }
            checkKeys(en, ENTRY_KEYS, "path entry " + path.size());
            List<Integer> rsvd = new ArrayList<>();
            JsonNode rs = en.path("rsvd");
            if (!rs.isMissingNode() && !rs.isArray()) {
                throw new MmuProbe.BadRequest("\"rsvd\" must be an array of bit numbers");
            }
            int width = mode.entryBytes() * 8;
            for (JsonNode b : rs) {
                if (!b.isIntegralNumber() || !b.canConvertToInt() || b.intValue() < 0 || b.intValue() >= width) {
                    throw new MmuProbe.BadRequest("\"rsvd\" entries are bit numbers 0.." + (width - 1) + " of a "
                            + width + "-bit " + mode.cliName() + " entry, got " + b);
                }
                rsvd.add(b.intValue());
            }
            path.add(new MmuProbe.Entry(flag(en, "p"), flag(en, "rw"), flag(en, "us"), flag(en, "a"), flag(en, "d"),
                    flag(en, "ps"), flag(en, "nx"), (int) number(en, "pkey", 0, 15), flag(en, "pwt"), flag(en, "pcd"),
                    flag(en, "g"), rsvd));
        }
        return new MmuProbe.Request(mode, cpu, va, access, flag(root, "user"), flag(root, "implicit"), path);
    }

    private static void checkKeys(JsonNode node, Set<String> allowed, String where) {
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            String k = it.next().getKey();
            if (!allowed.contains(k)) {
                throw new MmuProbe.BadRequest("unknown key \"" + k + "\" in " + where);
            }
        }
    }

    private static boolean flag(JsonNode node, String key) {
        JsonNode v = node.path(key);
        if (v.isMissingNode() || v.isNull()) {
            return false;
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isIntegralNumber() && v.canConvertToLong() && (v.longValue() == 0 || v.longValue() == 1)) {
            return v.longValue() == 1;
        }
        throw new MmuProbe.BadRequest("\"" + key + "\" must be 0 or 1, got " + v);
    }

    private static long number(JsonNode node, String key, long min, long max) {
        JsonNode v = node.path(key);
        if (v.isMissingNode() || v.isNull()) {
            return min;
        }
        long n;
        if (v.isIntegralNumber() && v.canConvertToLong()) {
            n = v.longValue();
        } else if (v.isTextual()) {
            n = address(v, key);
        } else {
            throw new MmuProbe.BadRequest("\"" + key + "\" must be a number, got " + v);
        }
        if (n < min || n > max) {
            throw new MmuProbe.BadRequest("\"" + key + "\" must be in " + min + ".." + max + ", got " + n);
        }
        return n;
    }

    /**
     * An address: a JSON integer or a string, decimal or 0x-hex, in 0..2^64-1. Anything outside is
     * refused rather than wrapped, so the walk answers the request as given.
     */
    private static long address(JsonNode v, String key) {
        if (v.isIntegralNumber()) {
            java.math.BigInteger b = v.bigIntegerValue();
            if (b.signum() < 0 || b.bitLength() > 64) {
                throw new MmuProbe.BadRequest("\"" + key + "\" " + b + " is outside 0..2^64-1");
            }
            return b.longValue();
        }
        if (!v.isTextual()) {
            throw new MmuProbe.BadRequest("\"" + key + "\" must be an address (a number or a \"0x…\" string), got " + v);
        }
        String s = v.asText().trim().replace("_", "");
        try {
            if (s.startsWith("0x") || s.startsWith("0X")) {
                return Long.parseUnsignedLong(s.substring(2), 16);
            }
            return Long.parseUnsignedLong(s);
        } catch (NumberFormatException e) {
            throw new MmuProbe.BadRequest("\"" + key + "\" is not an address: " + v);
        }
    }
}
