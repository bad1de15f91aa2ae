package ptlab.kernel;

import static ptlab.kernel.Pgtable.PGD;
import static ptlab.kernel.Pgtable.PMD;
import static ptlab.kernel.Pgtable.PTE;
import static ptlab.kernel.Pgtable.PUD;

import java.util.ArrayList;
import java.util.List;

import ptlab.hw.PagingMode;
import ptlab.hw.Pte64;
import ptlab.hw.PteBits;

/**
 * mm/ptdump.c + arch/x86/mm/dump_pagetables.c (Linux v6.6): the page tables of one mm as the ranges
 * {@code /sys/kernel/debug/page_tables/} prints, read from physical memory.
 *
 * <p>The walk is mm/pagewalk.c's walk_pgd_range() .. walk_pte_range() with Linux's level
 * folding ({@link Pgtable}): an empty entry is a hole reported at the lowest level name that
 * tests it (so on 4-level paging an empty top-level entry is a "p4d", as in Linux), a leaf is
 * noted at its level, every pte of a pte table is noted. Before a leaf is noted,
 * {@link #effectiveProt} combines the levels above it the way the hardware does (SDM vol. 3,
 * 4.6: U/S and R/W must be set at every level, XD at any level disables execution).
 *
 * <p>{@link #notePage} is dump_pagetables.c's note_page(): consecutive entries are merged into one
 * line while their flags (PTE_FLAGS_MASK: everything but the address, so A and D too), their
 * effective protection and their level stay the same; a line also ends at an address marker
 * (the region headers). Two differences from Linux, both so that every line lies inside one
 * section and the lines tile the address space: an entry that spans a marker is split there
 * (Linux breaks only at entry boundaries, which in a real kernel are populated at every
 * marker; ptlab does not map the kernel image, modules or fixmap), and the non-canonical hole
 * of 4/5-level paging is a line of its own (Linux skips it, so it merges into the line before).
 *
 * <p>The W+X count is ptdump_walk_pgd_level_checkwx()'s: supervisor pages whose effective
 * protection is writable and executable; only where NX exists, as in Linux.
 */
public final class PtDump {

    /** struct addr_marker: a section header at {@code start}. */
    public record Marker(String name, long start) {
    }

    /**
     * One line: {@code [start, start + size)} (unsigned; the last line of a 64-bit space ends at
     * 2^64), the Linux level it was noted at, the entry's flags (PTE_FLAGS_MASK), and the
     * effective protection (U/S, R/W, NX combined over the levels; 0 for an empty range).
     */
    public record Range(long start, long size, int level, long prot, long effective, boolean nonCanonical) {
        public boolean present() {
            return (prot & PteBits.P) != 0;
        }

        /** A and D: they are part of the flags note_page() compares, though no column shows them. */
        public boolean accessed() {
            return (prot & PteBits.A) != 0;
        }

        public boolean dirty() {
            return (prot & PteBits.D) != 0;
        }

        /** The exclusive end, modulo 2^64 (0 for a line that ends at the top of a 64-bit space). */
        public long end() {
            return start + size;
        }
    }

    /** The lines under one marker. */
    public record Section(Marker marker, List<Range> ranges) {
    }

    /**
     * A finished dump. {@code wxPages} is the number of W+X supervisor 4 KiB pages, or -1 where
     * the mode has no NX (Linux skips the check there).
     */
    public record Dump(PagingMode mode, List<Section> sections, long wxPages) {

        /** Every line, in address order. */
        public List<Range> ranges() {
            List<Range> all = new ArrayList<>();
            for (Section s : sections) {
                all.addAll(s.ranges());
            }
            return all;
        }

        /** The dump as debugfs prints it: headers, one line per range, and the checkwx verdict. */
        public String toText() {
            StringBuilder sb = new StringBuilder();
            for (Section s : sections) {
                sb.append("---[ ").append(s.marker().name()).append(" ]---\n");
                for (Range r : s.ranges()) {
                    sb.append(formatLine(mode, r)).append('\n');
                }
            }
            if (wxPages == 0) {
                sb.append("x86/mm: Checked W+X mappings: passed, no W+X pages found.\n");
            } else if (wxPages > 0) {
                sb.append("x86/mm: Checked W+X mappings: FAILED, ").append(wxPages).append(" W+X pages found.\n");
            }
            return sb.toString();
        }
    }

    private static final String UNITS = "BKMGTPE";

    private final Pgtable pt;
    private final PagingMode mode;
    private final MmStruct mm;
    private final List<Marker> markers;
    private final long flagsMask;                  // PTE_FLAGS_MASK
    private final long[] protLevels = new long[PGD + 1];

    // struct pg_state
    private int level = -1;
    private long currentProt;
    private long currentEff;
    private boolean nonCanonical;
    private long startAddress;
    private int marker;
    private long wxPages;
    private final List<Section> sections = new ArrayList<>();
    private List<Range> lines;

    private PtDump(Kernel k, MmStruct mm) {
        this.pt = k.pgtable();
        this.mode = k.mode();
        this.mm = mm;
        this.markers = addressMarkers(k.layout());
        this.flagsMask = mode.entryBytes() == 4 ? 0xFFFL : ~Pte64.addressMask(52, 12);
    }

    /** ptdump_walk_pgd(): the page tables of {@code mm} (init_mm for the kernel's). */
    public static Dump walk(Kernel k, MmStruct mm) {
        return new PtDump(k, mm).run();
    }

    private Dump run() {
        if (mode.isLongMode()) {
            long half = 1L << (mode.vaBits() - 1);
            walkPgdRange(0, half);
            noteNonCanonical(half);
            walkPgdRange(-half, 0);              // the canonical upper half, up to 2^64 (end 0)
            flush(0);
        } else {
            walkPgdRange(0, 1L << 32);
            flush(1L << 32);
        }
        return new Dump(mode, List.copyOf(sections), mode.hasNx() ? wxPages : -1);
    }

    // ---- the walk (mm/pagewalk.c) --------------------------------------------------------------

    /**
     * walk_pgd_range() .. walk_pmd_range() for Linux level {@code l} over [addr, end); {@code parentp}
     * is the entry above (unused for the pgd). Holes, leaves and bad entries are noted; tables
     * are descended into. Nothing is written: a bad entry is reported, not cleared.
     */
    private void walkRange(int l, long parentp, long addr, long end) {
        do {
            long next = pt.addrEnd(l, addr, end);
            long p = l == PGD ? pt.pgd_offset(mm, addr) : pt.offset(l, parentp, addr);
            long e = pt.get(p);
            if (l == PTE) {
                effectiveProt(PTE, e);             // ptdump_pte_entry(): every pte, empty ones too
                note(addr, next, PTE, e);
            } else if (pt.none(l, e)) {
                note(addr, next, l, 0);            // ptdump_hole()
            } else {
                effectiveProt(l, e);
                if (pt.leaf(l, e) || pt.bad(l, e)) {
                    note(addr, next, l, e);
                } else {
                    walkRange(l - 1, p, addr, next);
                }
            }
            addr = next;
        } while (addr != end);
    }

    /** walk_page_range_novma() over [addr, end) from the mm's pgd. */
    private void walkPgdRange(long addr, long end) {
        walkRange(PGD, 0, addr, end);
    }

    /**
     * effective_prot(): U/S and R/W of an entry count only if every level above allows them, NX
     * counts if any level sets it. A PAE PDPTE has no access-rights bits (SDM 4.4.1); it
     * restricts nothing (the pre-5.8 dump_pagetables.c started PAE walks with
     * {@code eff = _PAGE_USER | _PAGE_RW} for this reason).
     */
    private void effectiveProt(int l, long e) {
        long prot = e & flagsMask;
        if (mode.isPae() && pt.hwLevel(l) == 3) {
            prot |= PteBits.US | PteBits.RW;
        }
        long effective;
        if (l == PGD) {
            effective = prot;
        } else {
            long higher = protLevels[l + 1];
            effective = (higher & prot & (PteBits.US | PteBits.RW)) | ((higher | prot) & Pte64.NX);
        }
        protLevels[l] = effective;
    }

    // ---- note_page (arch/x86/mm/dump_pagetables.c) ------------------------------------------------

    /** Notes the entry [addr, next) at level {@code l}, split at every marker inside it. */
    private void note(long addr, long next, int l, long val) {
        for (int m = marker + 1; m < markers.size(); m++) {
            long b = markers.get(m).start();
            if (above(b, addr) && (next == 0 || Long.compareUnsigned(b, next) < 0)) {
                notePage(addr, l, val, false);
                addr = b;
            }
        }
        notePage(addr, l, val, false);
    }

    /** The range between the two canonical halves: no entry maps it, no walk reaches it. */
    private void noteNonCanonical(long addr) {
        notePage(addr, PGD, 0, true);
    }

    private static boolean above(long a, long b) {
        return Long.compareUnsigned(a, b) > 0;
    }

    /** note_page(): extend the current line, or end it and start one at {@code addr}. */
    private void notePage(long addr, int l, long val, boolean nonCanonicalHole) {
        long newProt = val & flagsMask;
        long newEff = val == 0 ? 0 : protLevels[l];
        if (level == -1) {                         // first entry
            startLine(addr, l, newProt, newEff, nonCanonicalHole);
            marker = 0;
            lines = new ArrayList<>();
            return;
        }
        boolean atMarker = marker + 1 < markers.size()
                && Long.compareUnsigned(addr, markers.get(marker + 1).start()) >= 0;
        if (newProt != currentProt || newEff != currentEff || l != level || nonCanonicalHole != nonCanonical || atMarker) {
            endLine(addr);
            if (atMarker) {
                sections.add(new Section(markers.get(marker), List.copyOf(lines)));
                marker++;
                lines = new ArrayList<>();
            }
            startLine(addr, l, newProt, newEff, nonCanonicalHole);
        }
    }

    private void startLine(long addr, int l, long prot, long eff, boolean nonCanonicalHole) {
        startAddress = addr;
        level = l;
        currentProt = prot;
        currentEff = eff;
        nonCanonical = nonCanonicalHole;
    }

    private void endLine(long addr) {
        Range r = new Range(startAddress, addr - startAddress, level, currentProt, currentEff, nonCanonical);
        if ((currentEff & PteBits.RW) != 0 && (currentEff & Pte64.NX) == 0 && (currentEff & PteBits.US) == 0) {
            wxPages += Long.divideUnsigned(r.size(), KernelLayout.PAGE_SIZE);   // note_wx()
        }
        lines.add(r);
    }

    /** "Flush out the last page": ends the last line at {@code end} (0 = 2^64). */
    private void flush(long end) {
        endLine(end);
        sections.add(new Section(markers.get(marker), List.copyOf(lines)));
    }

    // ---- formatting (printk_prot) -----------------------------------------------------------------

    /** One debugfs line: {@code 0x%0*lx-0x%0*lx   %9lu%c } then printk_prot(). */
    public static String formatLine(PagingMode mode, Range r) {
        int width = mode.isLongMode() ? 16 : 8;   // sizeof(unsigned long) * 2
        long endShown = mode.isLongMode() ? r.end() : r.end() & 0xFFFF_FFFFL;
        return String.format("0x%0" + width + "x-0x%0" + width + "x   %s %s%s", r.start(), endShown,
                sizeColumn(r.size()), protString(r.prot(), r.level()), levelName(r.level()));
    }

    /** The size column, {@code %9lu%c}: divided by 1024 while it divides evenly, up to E. */
    static String sizeColumn(long delta) {
        int unit = 0;
        while ((delta & 1023) == 0 && unit < UNITS.length() - 1) {
            delta >>>= 10;
            unit++;
        }
        return String.format("%9s%c", Long.toUnsignedString(delta), UNITS.charAt(unit));
    }

    /** printk_prot(): fixed-width columns; a not-present entry prints as blanks (30 columns). */
    static String protString(long pr, int level) {
        if ((pr & PteBits.P) == 0) {
            return " ".repeat(30);
        }
        return ((pr & PteBits.US) != 0 ? "USR " : "    ")
                + ((pr & PteBits.RW) != 0 ? "RW " : "ro ")
                + ((pr & PteBits.PWT) != 0 ? "PWT " : "    ")
                + ((pr & PteBits.PCD) != 0 ? "PCD " : "    ")
                // bit 7 is PSE above the pte level and PAT in a pte; the large-page PAT bit (12)
                // is masked off with the address by PTE_FLAGS_MASK, so Linux never prints it.
                + (level != PTE && (pr & PteBits.PS) != 0 ? "PSE " : "    ")
                + (level == PTE && (pr & PteBits.PAT_4K) != 0 ? "PAT " : "    ")
                + ((pr & PteBits.G) != 0 ? "GLB " : "    ")
                + ((pr & Pte64.NX) != 0 ? "NX " : "x  ");
    }

    /** level_name[]: pgd, p4d, pud, pmd, pte. */
    public static String levelName(int level) {
        return switch (level) {
            case PTE -> "pte";
            case PMD -> "pmd";
            case PUD -> "pud";
            case Pgtable.P4D -> "p4d";
            case PGD -> "pgd";
            default -> throw new IllegalArgumentException("no page-table level " + level);
        };
    }

    /** The flag names a line shows, in column order: USR, RW, PWT, PCD, PSE, PAT, GLB, NX (empty if not present). */
    public static List<String> flagNames(long pr, int level) {
        List<String> out = new ArrayList<>();
        if ((pr & PteBits.P) == 0) {
            return out;
        }
        if ((pr & PteBits.US) != 0) out.add("USR");
        if ((pr & PteBits.RW) != 0) out.add("RW");
        if ((pr & PteBits.PWT) != 0) out.add("PWT");
        if ((pr & PteBits.PCD) != 0) out.add("PCD");
        if (level != PTE && (pr & PteBits.PS) != 0) out.add("PSE");
        if (level == PTE && (pr & PteBits.PAT_4K) != 0) out.add("PAT");
        if ((pr & PteBits.G) != 0) out.add("GLB");
        if ((pr & Pte64.NX) != 0) out.add("NX");
        return out;
    }

    /** The effective protection as flag names: USR, RW, NX (what the hardware enforces over all levels). */
    public static List<String> effectiveFlagNames(long effective) {
        List<String> out = new ArrayList<>();
        if ((effective & PteBits.US) != 0) out.add("USR");
        if ((effective & PteBits.RW) != 0) out.add("RW");
        if ((effective & Pte64.NX) != 0) out.add("NX");
        return out;
    }

    // ---- address markers (pt_dump_init) -----------------------------------------------------------

    /**
     * address_markers[] of dump_pagetables.c, with the addresses pt_dump_init() fills in, taken
     * from {@code layout}'s regions. x86-64 omits the KASAN markers (no CONFIG_KASAN) and "End
     * Modules" (it coincides with the fixmap here); its "Kernel Space" starts at the canonical
     * upper half, not at 1UL << 63 inside the non-canonical hole.
     */
    public static List<Marker> addressMarkers(KernelLayout layout) {
        List<Marker> m = new ArrayList<>();
        m.add(new Marker("User Space", 0));
        if (layout.mode().isLongMode()) {
            m.add(new Marker("Kernel Space", -(1L << (layout.mode().vaBits() - 1))));
            m.add(new Marker("LDT remap", regionStart(layout, "LDT remap")));
            m.add(new Marker("Low Kernel Mapping", layout.pageOffset()));
            m.add(new Marker("vmalloc() Area", layout.vmallocStart()));
            m.add(new Marker("Vmemmap", regionStart(layout, "vmemmap")));
            m.add(new Marker("CPU entry Area", regionStart(layout, "cpu_entry_area")));
            m.add(new Marker("ESPfix Area", regionStart(layout, "%esp fixup stacks")));
            m.add(new Marker("EFI Runtime Services", regionStart(layout, "EFI region")));
            m.add(new Marker("High Kernel Mapping", regionStart(layout, "kernel text mapping")));
            m.add(new Marker("Modules", regionStart(layout, "module mapping space")));
            m.add(new Marker("Fixmap Area", regionStart(layout, "fixmap")));
        } else {
            m.add(new Marker("Kernel Mapping", layout.pageOffset()));
            m.add(new Marker("vmalloc() Area", layout.vmallocStart()));
            m.add(new Marker("vmalloc() End", layout.vmallocEnd() + 1));
            m.add(new Marker("Persistent kmap() Area", regionStart(layout, "pkmap")));
            m.add(new Marker("LDT remap", regionStart(layout, "LDT remap")));
            m.add(new Marker("CPU entry area", regionStart(layout, "cpu_entry_area")));
            m.add(new Marker("Fixmap area", regionStart(layout, "fixmap")));
        }
        for (int i = 1; i < m.size(); i++) {
            if (!above(m.get(i).start(), m.get(i - 1).start())) {
                throw new IllegalStateException("address markers out of order: " + m.get(i - 1) + ", " + m.get(i));
            }
        }
        return List.copyOf(m);
    }

    private static long regionStart(KernelLayout layout, String prefix) {
        for (Region r : layout.regions()) {
            if (r.name().startsWith(prefix)) {
                return r.start();
            }
        }
        throw new IllegalStateException("no region '" + prefix + "' in the " + layout.mode() + " layout");
    }
}
