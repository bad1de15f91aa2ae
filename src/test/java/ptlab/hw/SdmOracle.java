package ptlab.hw;

import java.util.List;

import ptlab.tools.MmuProbe;

/**
 * An independent model of SDM vol. 3 chapter 4 for one walk path as {@code ptlab mmu probe}
 * builds it. Written from the SDM text (4.3-4.8), deliberately without calling PageWalker,
 * Pte32/Pte64/PaePdpte reserved masks or PagingMode helpers beyond plain geometry.
 */
final class SdmOracle {
    private SdmOracle() {
    }

    static final int P = 1, WR = 2, US = 4, RSVD = 8, ID = 16, PK = 32;

    record Expect(boolean fault, boolean gp, int errorCode, long pa, long pageSize, int[] a, int d) {
    }

    static int levels(PagingMode m) {
        return switch (m) {
            case X86_32 -> 2;
            case X86_32_PAE -> 3;
            case X86_64 -> 4;
            case X86_64_LA57 -> 5;
        };
    }

    static int defaultMaxPhy(PagingMode m) {
        return m == PagingMode.X86_32 || m == PagingMode.X86_32_PAE ? 36 : 46;
    }

    /** Page size of a leaf at level (1 = PTE). */
    static long span(PagingMode m, int level) {
        int bits = m == PagingMode.X86_32 ? 10 : 9;
        return 1L << (12 + bits * (level - 1));
    }

    /** SDM tables 4-4..4-20: reserved bits of a present entry, independent of the main code. */
    static long reserved(PagingMode m, int level, boolean large, int maxPhy, boolean nxe) {
        long r = 0;
        switch (m) {
            case X86_32 -> {
                if (large) { // table 4-4: 4 MiB PDE, bits (M-32+13)..20 and 21 with PSE-36
                    int hi = Math.min(maxPhy, 40);
                    for (int b = 13 + (hi - 32); b <= 21; b++) r |= 1L << b;
                }
            }
            case X86_32_PAE -> {
                if (level == 3) { // table 4-8: PDPTE bits 2:1, 8:5, 63:M
                    r |= (1L << 1) | (1L << 2) | (1L << 5) | (1L << 6) | (1L << 7) | (1L << 8);
                    for (int b = maxPhy; b <= 63; b++) r |= 1L << b;
                } else {
                    for (int b = maxPhy; b <= 62; b++) r |= 1L << b;
                    if (!nxe) r |= 1L << 63;
                    if (large) for (int b = 13; b <= 20; b++) r |= 1L << b;
                }
            }
            default -> {
                for (int b = maxPhy; b <= 51; b++) r |= 1L << b;
                if (!nxe) r |= 1L << 63;
                if (level >= 4) r |= 1L << 7;
                if (large && level == 2) for (int b = 13; b <= 20; b++) r |= 1L << b;
                if (large && level == 3) for (int b = 13; b <= 29; b++) r |= 1L << b;
            }
        }
        return r;
    }

    static Expect expect(MmuProbe.Request req) {
        PagingMode m = req.mode();
        MmuProbe.Cpu cpu = req.cpu();
        List<MmuProbe.Entry> path = req.path();
        int n = path.size();
        int maxPhy = cpu.maxPhyAddr() != null ? cpu.maxPhyAddr() : defaultMaxPhy(m);
        boolean hasNx = m != PagingMode.X86_32;
        boolean nxe = hasNx && cpu.nxe();
        boolean longMode = m == PagingMode.X86_64 || m == PagingMode.X86_64_LA57;
        boolean pke = longMode && cpu.pke();
        boolean write = req.access() == AccessType.WRITE;
        boolean fetch = req.access() == AccessType.FETCH;
        boolean userAccess = req.user() && !req.implicit();
        int[] a0 = new int[n];
        // what the probe reads back: bits 5 and 6 of the entry (a PAE PDPTE may carry them as reserved bits)
        for (int i = 0; i < n; i++) a0[i] = path.get(i).a() || path.get(i).rsvd().contains(5) ? 1 : 0;
        int d0 = path.get(n - 1).d() || path.get(n - 1).rsvd().contains(6) ? 1 : 0;
        // 4.7: W/R, U/S describe the access; I/D for fetches iff SMEP or (PAE/4-level and NXE)
        int base = (write ? WR : 0) | (userAccess ? US : 0) | (fetch && (cpu.smep() || nxe) ? ID : 0);

        boolean rw = true, us = true, xd = false;
        int top = levels(m);
        for (int i = 0; i < n; i++) {
            int level = top - i;
            MmuProbe.Entry e = path.get(i);
            boolean large = e.ps() && (level == 2 || (level == 3 && longMode));
            if (m == PagingMode.X86_32_PAE && level == 3) {
                // 4.4.1: PDPTEs are loaded at CR3 time; reserved bits give #GP there
                long bits = rsvdBits(e) | (e.rw() ? 2 : 0) | (e.us() ? 4 : 0) | (e.a() ? 32 : 0) | (e.d() ? 64 : 0)
                        | (e.ps() ? 128 : 0) | (e.nx() ? 1L << 63 : 0);
                if (e.p() && (bits & reserved(m, 3, false, maxPhy, nxe)) != 0) {
                    return new Expect(true, true, 0, 0, 0, a0, d0);
                }
                if (!e.p()) return new Expect(true, false, base, 0, 0, a0, d0);
                continue;
            }
            if (!e.p()) return new Expect(true, false, base, 0, 0, a0, d0);
            long bits = rsvdBits(e) | (e.nx() ? 1L << 63 : 0) | (e.ps() && level >= 4 ? 1L << 7 : 0);
            if ((bits & reserved(m, level, large, maxPhy, nxe)) != 0) {
                return new Expect(true, false, base | P | RSVD, 0, 0, a0, d0);
            }
            rw &= e.rw();
            us &= e.us();
            xd |= nxe && e.nx();
            if (level == 1 || large) {
                if (i != n - 1) throw new IllegalStateException("leaf before end of path");
                return leaf(req, cpu, e, level, rw, us, xd, pke, write, fetch, userAccess, base, a0, d0, m);
            }
        }
        throw new IllegalStateException("path ends without a leaf");
    }

    private static long rsvdBits(MmuProbe.Entry e) {
        long b = 0;
        for (int x : e.rsvd()) b |= 1L << x;
        return b;
    }

    private static Expect leaf(MmuProbe.Request req, MmuProbe.Cpu cpu, MmuProbe.Entry e, int level, boolean rw,
                               boolean us, boolean xd, boolean pke, boolean write, boolean fetch,
                               boolean userAccess, int base, int[] a0, int d0, PagingMode m) {
        boolean deny;
        if (userAccess) {
            // 4.6.1 user-mode access: U/S=1 everywhere; writes need R/W=1; fetches need XD=0
            deny = !us || (write && !rw) || (fetch && xd);
        } else if (fetch) {
            // supervisor fetch: XD, and SMEP forbids user-mode addresses
            deny = xd || (us && cpu.smep());
        } else {
            // supervisor data: SMAP for user-mode addresses unless explicit with AC=1;
            // writes to read-only addresses only with WP=0
            boolean smapDeny = us && cpu.smap() && (req.implicit() || !cpu.ac());
            deny = smapDeny || (write && !rw && cpu.wp());
        }
        // 4.6.2 / 4.7: PK condition
        boolean pk = false;
        if (pke && !fetch && us) {
            int key = e.pkey();
            boolean ad = ((cpu.pkru() >>> (2 * key)) & 1) != 0;
            boolean wd = ((cpu.pkru() >>> (2 * key + 1)) & 1) != 0;
            pk = ad || (wd && write && (cpu.wp() || userAccess));
        }
        if (deny || pk) {
            return new Expect(true, false, base | P | (pk ? PK : 0), 0, 0, a0, d0);
        }
        int n = a0.length;
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            boolean pdpte = m == PagingMode.X86_32_PAE && i == 0;
            a[i] = pdpte ? a0[i] : 1;   // 4.8: A set in every entry used (PAE PDPTEs have none)
        }
        int d = write ? 1 : d0;
        long size = span(m, level);
        return new Expect(false, false, 0, MmuProbe.PAGE_FRAME + (req.va() & (size - 1)), size, a, d);
    }
}
