package ptlab.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import ptlab.hw.PagingMode;
import ptlab.kernel.KernelLayout;
import ptlab.kernel.Region;
import ptlab.kernel.VmSplit;

/** {@code ptlab layout}: the kernel virtual memory map and the vmalloc sync arithmetic (mail 001). */
@Command(name = "layout", mixinStandardHelpOptions = true,
        description = "Prints the kernel's virtual memory map for a paging mode, split and RAM size, and how "
                + "many page-table entries of the vmalloc area every process's page tables must keep in sync.",
        footer = {"", "Examples:", "  ptlab layout --arch x86-32-pae --vmsplit 1G --ram 512M --top-reserve 8M",
                "  ptlab layout --arch x86-64 --format json"})
public final class LayoutCommand implements Callable<Integer> {

    @Option(names = "--arch", required = true, description = "x86-32, x86-32-pae, x86-64 or x86-64-la57")
    String arch;

    @Option(names = "--vmsplit", description = "x86-32 only: 3G (default), 2G or 1G of user space")
    String vmsplit;

    @Option(names = "--ram", defaultValue = "512M", converter = SizeConverter.class,
            description = "RAM size, e.g. 512M, 4G (default: ${DEFAULT-VALUE})")
    long ram;

    @Option(names = "--top-reserve", converter = SizeConverter.class,
            description = "x86-32 only: bytes above VMALLOC_END (fixmap, pkmap, LDT, cpu_entry_area); "
                    + "default: derived as the kernel does (see KernelLayout)")
    Long topReserve;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE})")
    OutputFormat format;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PagingMode mode = UsageException.userInput(() -> PagingMode.fromCliName(arch));
        VmSplit split = null;
        if (vmsplit != null) {
            if (mode.isLongMode()) {
                throw new UsageException("--vmsplit applies to x86-32 and x86-32-pae only, not " + mode);
            }
            split = UsageException.userInput(() -> VmSplit.fromCliName(vmsplit));
        }
        if (topReserve != null && mode.isLongMode()) {
            throw new UsageException("--top-reserve applies to x86-32 and x86-32-pae only, not " + mode);
        }
        pageMultiple(ram, "--ram");
        VmSplit s = split;
        KernelLayout l = UsageException.userInput(() -> KernelLayout.of(mode, s, ram, topReserve));
        PrintWriter out = spec.commandLine().getOut();
        if (format == OutputFormat.json) {
            out.println(Json.writePretty(toJson(l)));
        } else {
            out.print(toText(l));
        }
        out.flush();
        return Ptlab.EXIT_OK;
    }

    /** RAM and reserves come in whole 4K pages (a region ending mid-page is not a layout). */
    static void pageMultiple(long bytes, String option) {
        if (bytes % KernelLayout.PAGE_SIZE != 0) {
            throw new UsageException(option + " " + bytes + " is not a multiple of the 4K page size");
        }
    }

    static ObjectNode toJson(KernelLayout l) {
        ObjectNode o = Json.object();
        o.put("arch", l.mode().cliName());
        if (l.split() != null) {
            o.put("vmsplit", l.split().cliName());
        }
        o.put("ram", l.ramBytes());
        o.put("direct_map_bytes", l.directMapBytes());
        if (l.maxmem() >= 0) {
            o.put("maxmem", l.maxmem());
            o.put("top_reserve", l.topReserveBytes());
            o.put("top_reserve_default", l.topReserveIsDefault());
        }
        o.put("page_offset", Json.hex(l.pageOffset()));
        o.put("vmalloc_start", Json.hex(l.vmallocStart()));
        o.put("vmalloc_end", Json.hex(l.vmallocEnd()));
        o.put("vmalloc_size", l.vmallocSize());
        o.put("sync_level", l.syncLevel());
        o.put("sync_entry_span", l.syncEntrySpan());
        o.put("kernel_entries_at_sync_level", l.kernelEntriesAtSyncLevel());
        o.put("below_page_offset_entries", l.belowPageOffsetEntries());
        o.put("direct_map_entries", l.directMapEntries());
        o.put("hole_entries", l.holeEntries());
        o.put("vmalloc_entries", l.vmallocEntries());
        o.put("top_reserved_entries", l.topReservedEntries());
        o.put("prealloc_level", l.preallocTableLevel());
        o.put("prealloc_pages", l.preallocPages());
        o.put("prealloc_bytes", l.preallocBytes());
        ArrayNode regions = o.putArray("regions");
        for (Region r : l.regions()) {
            ObjectNode ro = regions.addObject();
            ro.put("name", r.name());
            ro.put("start", Json.hex(r.start()));
            ro.put("end", Json.hex(r.end()));
            ro.put("size", r.size());
        }
        return o;
    }

    static String toText(KernelLayout l) {
        boolean wide = l.mode().isLongMode();
        String addr = wide ? "%016x" : "%08x";
        int w = wide ? 16 : 10;
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("Kernel virtual memory map: %s%s, RAM %s%n", l.mode().cliName(),
                l.split() == null ? "" : ", VMSPLIT_" + l.split().cliName(), size(l.ramBytes())));
        String sep = "=".repeat(w * 2 + 60);
        sb.append(sep).append('\n');
        sb.append(String.format(" %-" + w + "s | %-" + w + "s | %9s | %s%n", "Start addr", "End addr", "Size",
                "VM area description"));
        sb.append(sep).append('\n');
        for (Region r : l.regions()) {
            sb.append(String.format(" %-" + w + "s | %-" + w + "s | %9s | %s%n", String.format(addr, r.start()),
                    String.format(addr, r.end()), size(r.size()), r.name()));
        }
        sb.append(sep).append('\n');
        String lvl = l.syncLevel();
        long span = l.syncEntrySpan();
        sb.append(String.format("PAGE_OFFSET   = 0x%x%n", l.pageOffset()));
        if (l.maxmem() >= 0) {
            sb.append(String.format("top reserve   = %s (4G - VMALLOC_END)%s%n", size(l.topReserveBytes()),
                    l.topReserveIsDefault() ? ", kernel default for NR_CPUS=8" : ", --top-reserve"));
            sb.append(String.format("MAXMEM        = VMALLOC_END - PAGE_OFFSET - __VMALLOC_RESERVE(128M) = %s%n",
                    size(l.maxmem())));
            sb.append(String.format("lowmem        = min(RAM, MAXMEM) = %s; high_memory = 0x%x%n",
                    size(l.directMapBytes()), l.pageOffset() + l.directMapBytes()));
        }
        sb.append(String.format("VMALLOC_START = 0x%x, vmalloc end (last byte) = 0x%x, size %s%n",
                l.vmallocStart(), l.vmallocEnd(), size(l.vmallocSize())));
        sb.append(String.format("sync level: %s (one %s entry maps %s)%s%n", lvl, lvl, size(span), foldingNote(l)));
        sb.append(String.format("  kernel %s entries         %6d%n", lvl, l.kernelEntriesAtSyncLevel()));
        if (l.belowPageOffsetEntries() > 0) {
            sb.append(String.format("  - below PAGE_OFFSET        %6d  (guard hole, LDT remap)%n", l.belowPageOffsetEntries()));
        }
        sb.append(String.format("  - direct map               %6d  (ceil(%s / %s))%n", l.directMapEntries(),
                size(l.directMapBytes()), size(span)));
        sb.append(String.format("  - hole before vmalloc      %6d%n", l.holeEntries()));
        sb.append(String.format("  - above vmalloc            %6d%n", l.topReservedEntries()));
        sb.append(String.format("  = vmalloc, to keep in sync %6d%n", l.vmallocEntries()));
        sb.append(String.format("preallocating one %s page per vmalloc %s entry: %d pages = %s%n",
                l.preallocTableLevel(), lvl, l.preallocPages(), size(l.preallocBytes())));
        return sb.toString();
    }

    /** Where Linux's code calls the sync-level entry by another name (KernelLayout#syncLevel). */
    static String foldingNote(KernelLayout l) {
        return switch (l.mode()) {
            case X86_32 -> "; Linux's vmalloc_sync_one() writes it as a pmd, folded into the pgd on 2-level paging";
            case X86_64 -> "; Linux's sync_global_pgds_l4() writes it as a p4d, folded into the pgd on 4-level paging";
            default -> "";
        };
    }

    /** Size with binary units: exact ("32T", "10248K") when a unit divides it, else "~1.5G". */
    static String size(long bytes) {
        String[] units = {"", "K", "M", "G", "T", "P", "E"};
        int u = 0;
        long v = bytes;
        while (u < units.length - 1 && v >= 1024 && v % 1024 == 0) {
            v /= 1024;
            u++;
        }
        if (v < 1024 * 1024) {
            return v + units[u];
        }
        int a = 0;
        double d = bytes;
        while (a < units.length - 1 && d >= 1024) {
            d /= 1024;
            a++;
        }
        return String.format("~%.1f%s", d, units[a]);
    }
}
