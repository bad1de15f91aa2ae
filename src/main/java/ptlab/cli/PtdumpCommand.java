package ptlab.cli;

import java.io.PrintWriter;
import java.math.BigInteger;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import ptlab.hw.PagingMode;
import ptlab.kernel.PtDump;
import ptlab.tools.PtdumpScenario;
import ptlab.tools.Scenarios;

/** {@code ptlab ptdump}: the page tables after a named scenario, as Linux's /sys/kernel/debug/page_tables/ prints them. */
@Command(name = "ptdump", mixinStandardHelpOptions = true,
        description = {
                "Runs a named scenario and prints the page tables of one of its address spaces in the format of "
                        + "Linux's /sys/kernel/debug/page_tables/ (arch/x86/mm/dump_pagetables.c): address range, "
                        + "size, flags, level, with consecutive entries of equal flags merged.",
                "",
                "Scenarios (--mm names in brackets, the default first):",
                "  boot      init_mm after boot: the direct map [kernel]",
                "  process   text, data, heap, mmap and stack touched in part [process, kernel]",
                "  fork-cow  parent after fork: its anonymous pages read-only [parent, child, kernel]",
                "  thp       x86-64/la57: 2 MiB THP pmds, one split by mprotect [process, kernel]",
                "'ptlab ptdump --list' describes them in full."},
        footer = {"", "Examples:", "  ptlab ptdump --arch x86-64 --scenario thp",
                "  ptlab ptdump --arch x86-32-pae --scenario fork-cow --mm child --format json",
                "  ptlab ptdump --list"})
public final class PtdumpCommand implements Callable<Integer> {

    @Option(names = "--arch", description = "x86-32, x86-32-pae, x86-64 or x86-64-la57")
    String arch;

    @Option(names = "--scenario", description = "boot, process, fork-cow or thp")
    String scenario;

    @Option(names = "--mm", description = "the address space to dump: kernel (init_mm) or one the scenario names "
            + "(default: the scenario's first)")
    String mm;

    @Option(names = "--list", description = "list the scenarios and exit")
    boolean list;

    @Option(names = "--format", defaultValue = "text", description = "text or json, also with --list (default: ${DEFAULT-VALUE})")
    OutputFormat format;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (list) {
            out.print(format == OutputFormat.json ? Json.writePretty(listJson()) + "\n" : listText());
            out.flush();
            return Ptlab.EXIT_OK;
        }
        if (arch == null) {
            throw new UsageException("missing --arch (x86-32, x86-32-pae, x86-64 or x86-64-la57)");
        }
        if (scenario == null) {
            throw new UsageException("missing --scenario (see ptlab ptdump --list)");
        }
        PagingMode mode = UsageException.userInput(() -> PagingMode.fromCliName(arch));
        PtdumpScenario s = UsageException.userInput(() -> PtdumpScenario.fromCliName(scenario));
        String mmName = mm == null ? s.defaultMm() : mm;
        if (!s.mmNames().contains(mmName)) {
            throw new UsageException("scenario " + s.cliName() + " has no mm '" + mmName + "' (expected one of "
                    + String.join(", ", s.mmNames()) + ")");
        }
        PtdumpScenario.Result r = UsageException.userInput(() -> s.build(mode));   // thp needs 4/5 levels
        PtDump.Dump d = PtDump.walk(r.kernel(), r.mm(mmName));
        if (format == OutputFormat.json) {
            out.println(Json.writePretty(toJson(d, s, mmName)));
        } else {
            out.print(d.toText());
        }
        out.flush();
        return Ptlab.EXIT_OK;
    }

    static String listText() {
        StringBuilder sb = new StringBuilder();
        for (PtdumpScenario s : PtdumpScenario.values()) {
            sb.append(String.format("%-9s %s%n%-9s --mm %s%n", s.cliName(), s.description(), "",
                    String.join("|", s.mmNames())));
        }
        return sb.toString();
    }

    static ArrayNode listJson() {
        ArrayNode a = Json.array();
        for (PtdumpScenario s : PtdumpScenario.values()) {
            ObjectNode o = a.addObject();
            o.put("scenario", s.cliName());
            o.put("description", s.description());
            ArrayNode mms = o.putArray("mms");
            s.mmNames().forEach(mms::add);
        }
        return a;
    }

    static ObjectNode toJson(PtDump.Dump d, PtdumpScenario s, String mmName) {
        ObjectNode o = Json.object();
        o.put("arch", d.mode().cliName());
        o.put("scenario", s.cliName());
        o.put("mm", mmName);
        ArrayNode sections = o.putArray("sections");
        for (PtDump.Section sec : d.sections()) {
            ObjectNode so = sections.addObject();
            so.put("name", sec.marker().name());
            so.put("start", Json.hex(sec.marker().start()));
            ArrayNode ranges = so.putArray("ranges");
            for (PtDump.Range r : sec.ranges()) {
                ObjectNode ro = ranges.addObject();
                BigInteger start = unsigned(r.start());
                BigInteger size = unsigned(r.size());
                ro.put("start", "0x" + start.toString(16));
                ro.put("end", "0x" + start.add(size).toString(16));
                ro.put("size", size);
                ro.put("level", PtDump.levelName(r.level()));
                ro.put("present", r.present());
                ArrayNode flags = ro.putArray("flags");
                PtDump.flagNames(r.prot(), r.level()).forEach(flags::add);
                if (r.present()) {
                    ArrayNode eff = ro.putArray("effective");
                    PtDump.effectiveFlagNames(r.effective()).forEach(eff::add);
                    ro.put("accessed", r.accessed());
                    ro.put("dirty", r.dirty());
                }
                if (r.nonCanonical()) {
                    ro.put("non_canonical", true);
                }
            }
        }
        if (d.wxPages() >= 0) {
            o.put("wx_pages", d.wxPages());
        } else {
            o.putNull("wx_pages");
        }
        return o;
    }

    private static BigInteger unsigned(long v) {
        return new BigInteger(Long.toUnsignedString(v));
    }
}
