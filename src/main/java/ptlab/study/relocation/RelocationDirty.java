package ptlab.study.relocation;

import java.util.ArrayList;
import java.util.List;

import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.hw.PagingMode;
import ptlab.hw.PteBits;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.Pgtable;
import ptlab.kernel.Task;

/**
 * {@code relocation-dirty}: mail 002's first question as a run. Threads of one process write to
 * their pages through translations their TLBs cached clean, while a kernel thread on the last
 * CPU moves the pte page that maps them to node 1 with the protocol under test.
 *
 * <p>A write through a clean TLB entry makes the CPU walk again and set D with a locked
 * compare-and-swap (SDM 4.8) — through its paging-structure cache, which may still point at the
 * old pte page after the copy was taken. Invariant 1 is checked at the end against the
 * machine's shadow record of completed writes (not against any A/D bit): every page written
 * must have D in the pte the kernel reads (for replicas, the OR over the copies). Invariant 2
 * (no walk through the old page after it was freed) is checked at every walker access and at
 * the free.
 *
 * <p>Variants: {@code PROTOCOL} on x86-64 with 2 CPUs (one writer, the migrator), and
 * {@code PROTOCOL-ARCH} and {@code PROTOCOL-ARCH-4cpu} (three writers) for every paging mode.
 * Each writer reads its page (caching it clean) and writes it twice.
 */
public final class RelocationDirty implements Scenario {

    private static final String[] ARCHES = {"x86-32", "x86-32-pae", "x86-64", "x86-64-la57"};

    @Override
    public String name() {
        return "relocation-dirty";
    }

    @Override
    public String description() {
        return "threads write through clean TLB entries while their pte page is moved to another node; no D bit may be lost";
    }

    @Override
    public List<Variant> variants() {
        List<Variant> v = new ArrayList<>();
        for (RelocationProtocol p : RelocationProtocol.all()) {
            v.add(new Variant(p.name(), p.broken(), p.description() + " (x86-64, 2 CPUs)"));
        }
        for (String arch : ARCHES) {
            for (int cpus : new int[]{2, 4}) {
                for (RelocationProtocol p : RelocationProtocol.all()) {
                    v.add(new Variant(variantName(p.name(), arch, cpus), p.broken(),
                            p.description() + " (" + arch + ", " + cpus + " CPUs)"));
                }
            }
        }
        return v;
    }

    /** "safe-x86-32-pae", "naive-x86-64-4cpu". */
    public static String variantName(String protocol, String arch, int cpus) {
        return protocol + "-" + arch + (cpus == 4 ? "-4cpu" : "");
    }

    /**
     * A protocol's plain variant ({@code safe}) runs in every mode, x86-64 first; a variant that
     * names its arch ({@code safe-x86-32-pae}) only in that one.
     */
    @Override
    public List<PagingMode> modes(String variant) {
        String v = variant(variant).name();
        for (RelocationProtocol p : RelocationProtocol.all()) {
            if (v.equals(p.name())) {
                return List.of(PagingMode.X86_64, PagingMode.X86_32, PagingMode.X86_32_PAE, PagingMode.X86_64_LA57);
            }
        }
        for (String arch : ARCHES) {
            if (v.contains("-" + arch + "-4cpu") || v.endsWith("-" + arch)) {
                return List.of(PagingMode.fromCliName(arch));
            }
        }
        throw new IllegalStateException("variant " + v + " names no arch");
    }

    @Override
    public Machine build(String variant, PagingMode mode) {
        requireMode(variant, mode);
        String v = variant(variant).name();
        for (RelocationProtocol p : RelocationProtocol.all()) {
            if (v.equals(p.name())) {
                return build(RelocationProtocol.byName(v), mode, 2);
            }
        }
        return build(variant);
    }

    @Override
    public Machine build(String variant) {
        String v = variant(variant).name();
        for (String arch : ARCHES) {
            for (int cpus : new int[]{2, 4}) {
                for (RelocationProtocol p : RelocationProtocol.all()) {
                    if (v.equals(variantName(p.name(), arch, cpus))) {
                        return build(RelocationProtocol.byName(p.name()), PagingMode.fromCliName(arch), cpus);
                    }
                }
            }
        }
        return build(RelocationProtocol.byName(v), PagingMode.X86_64, 2);
    }

    /** The per-node replica pgds a {@link Replicate} protocol made: tables the leak check counts as owned. */
    private static long[] replicaRoots(RelocationProtocol protocol) {
        if (!(protocol instanceof Replicate r) || r.replicas() == null) {
            return new long[0];
        }
        long[] roots = new long[2];
        for (int node = 0; node < roots.length; node++) {
            roots[node] = r.replicas().top(node);
        }
        return roots;
    }

    /** The scenario for {@code protocol} (a fresh instance) on {@code mode} with {@code cpus} CPUs. */
    public static Machine build(RelocationProtocol protocol, PagingMode mode, int cpus) {
        return build(protocol, mode, cpus, null);
    }

    /**
     * As {@link #build(RelocationProtocol, PagingMode, int)}, counting in {@code checkRuns} (if
     * not null) each evaluation of the invariant-1 end check: a test of a correct protocol
     * asserts it ran on every schedule, so a pass is not a check that never ran.
     */
    public static Machine build(RelocationProtocol protocol, PagingMode mode, int cpus,
                                java.util.concurrent.atomic.LongAdder checkRuns) {
        KernelBridge.Booted b = KernelBridge.boot(mode,
                KernelConfig.defaults().withRam(32L << 20).withCpus(cpus).withNodes(2), ptlab.kernel.KernelVariant.CORRECT,
                new ptlab.check.Invariants().alsoOwning(() -> replicaRoots(protocol)));
        Kernel k = b.kernel();
        Machine m = b.machine();
        int writers = cpus - 1;
        Task main = k.createProcess();
        Task[] threads = new Task[writers];
        threads[0] = main;
        for (int i = 1; i < writers; i++) {
            threads[i] = k.cloneThread(main);
        }
        for (int i = 0; i < writers; i++) {
            k.switchTo(k.cpu(i), threads[i]);
        }
        long va = k.mmap(main, 0, writers * 4096L, Kernel.PROT_READ | Kernel.PROT_WRITE,
                Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        for (int i = 0; i < writers; i++) {
            if (k.writeUserLong(k.cpu(i), va + i * 4096L, 0) == false) {
                throw new IllegalStateException("setup fault failed");
            }
        }
        // madvise_free_pte_range(): mapped, writable, clean; then every TLB forgets the dirty entries
        for (int i = 0; i < writers; i++) {
            int[] level = new int[1];
            long ptep = k.pgtable().walk(main.mm(), va + i * 4096L, level);
            k.pgtable().set(ptep, k.pgtable().get(ptep) & ~PteBits.D);
        }
        k.tlb().flush_tlb_mm(null, main.mm());
        Machine.StepCheck dirty = ptlab.check.KernelChecks.dirtyCheck(k, main.mm(), va, writers * 4096L);
        m.addEndCheck(checkRuns == null ? dirty : mm -> {
            checkRuns.increment();
            return dirty.check(mm);
        });
        for (int i = 0; i < writers; i++) {
            long mine = va + i * 4096L;
            KernelBridge.addKernelCpu(m, k.cpu(i), cpu -> {
                if (KernelBridge.userAccess(cpu, false, mine, 0)) {       // caches the translation clean
                    KernelBridge.userAccess(cpu, true, mine, 1);           // clean hit: re-walk, set D
                    KernelBridge.userAccess(cpu, true, mine + 8, 2);
                }
            });
        }
        KernelBridge.addKernelCpu(m, k.cpu(writers), cpu -> {
            PageTableMigrator mig = new PageTableMigrator(k, main.mm(), k.cpu(writers), cpu);
            MoveResult r = protocol.move(mig, Pgtable.PTE, va, 1);
            if (!r.moved()) {
                throw new IllegalStateException("the pte page was not moved: " + r);
            }
        });
        return m;
    }
}
