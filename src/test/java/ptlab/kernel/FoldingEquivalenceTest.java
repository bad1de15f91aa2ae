package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;

/**
 * Level folding: one code path serves 2, 3, 4 and 5 levels, so the same process operations in
 * all four modes must look the same from user space — same values read, same signals, same
 * syscall results, same pages mapped — and must all free everything at exit.
 */
class FoldingEquivalenceTest {

    /** A window that straddles a 4 MiB (and 2 MiB) boundary: 64 pages from 0x103f0000. */
    private static final long BASE = 0x103f_0000L;
    private static final int PAGES = 64;

    @Property(tries = 40)
    void sameOperationsSameObservationsInAllModes(@ForAll long seed) {
        List<String> reference = null;
        for (PagingMode mode : PagingMode.values()) {
            List<String> log = run(mode, seed);
            if (reference == null) {
                reference = log;
            } else {
                for (int i = 0; i < Math.min(reference.size(), log.size()); i++) {
                    assertEquals(reference.get(i), log.get(i), mode + " differs from x86-32 at step " + i + " (seed " + seed + ")");
                }
                assertEquals(reference.size(), log.size());
            }
        }
    }

    private static List<String> run(PagingMode mode, long seed) {
        Random r = new Random(seed);
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(48L << 20).withCpus(2));
        List<String> log = new ArrayList<>();
        List<Task> tasks = new ArrayList<>();
        tasks.add(k.createProcess());
        k.switchTo(k.cpu(0), tasks.get(0));
        int[] prots = {PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE, PROT_READ | PROT_WRITE | PROT_EXEC};
        for (int step = 0; step < 60; step++) {
            Task t = tasks.get(r.nextInt(tasks.size()));
            Cpu cpu = k.cpu(r.nextInt(2));
            if (t.cpu() != cpu) {
                if (t.cpu() != null) {
                    k.switchTo(t.cpu(), null);
                }
                k.switchTo(cpu, t);
            }
            int page = r.nextInt(PAGES);
            int n = 1 + r.nextInt(PAGES - page);
            long va = BASE + page * 4096L;
            int op = r.nextInt(10);
            switch (op) {
                case 0, 1 -> log.add("mmap " + k.mmap(t, va, n * 4096L, prots[r.nextInt(prots.length)],
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED));
                case 2 -> log.add("munmap " + k.munmap(t, va, n * 4096L));
                case 3 -> log.add("mprotect " + k.mprotect(t, va, n * 4096L, prots[r.nextInt(prots.length)]));
                case 4, 5, 6 -> {
                    long v = r.nextLong();
                    log.add("write " + k.writeUserLong(cpu, va + 8L * r.nextInt(512), v));
                }
                case 7, 8 -> log.add("read " + k.readUserLong(cpu, va + 8L * r.nextInt(512), Long.MIN_VALUE));
                default -> {
                    if (tasks.size() < 4) {
                        Task c = k.fork(t);
                        tasks.add(c);
                        log.add("fork");
                    } else {
                        Task victim = tasks.remove(tasks.size() - 1);
                        k.exit(victim);
                        log.add("exit");
                    }
                }
            }
            StringBuilder mapped = new StringBuilder("mapped ");
            for (Task x : tasks) {
                for (int p = 0; p < PAGES; p++) {
                    mapped.append(k.lookup(x.mm(), BASE + p * 4096L) >= 0 ? '1' : '0');
                }
                mapped.append(" rss=").append(x.mm().rss()).append(" vmas=").append(x.mm().vmas().size()).append(' ');
            }
            log.add(mapped.toString());
        }
        for (Task t : tasks) {
            k.exit(t);
        }
        k.unlazyAll();
        k.checkNoLeaks();
        return log;
    }
}
