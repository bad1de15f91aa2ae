package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DemoCommandTest {

    @Test
    void demoRunsEverySectionAndExitsZero() {
        Cli.Run r = Cli.run("demo");
        assertEquals(0, r.code(), r.err());
        for (String section : new String[] {"== 1. Page walks", "== 2. TLB behaviour", "== 3. A process", "== 4. Study 1"}) {
            assertTrue(r.out().contains(section), section + " missing:\n" + r.out());
        }
        assertTrue(r.out().contains("== 5. Study 2") && r.out().contains("=> invariant 1 (no lost dirty bit)")
                && r.out().contains("copies pte page"), "section 5: naive's lost dirty bit found and replayed");
        assertTrue(r.out().contains("x86-64-la57     256        5           5/0     0xc41d    1      0x1000"),
                r.out());
        assertTrue(r.out().contains("broken-no-sync (deliberately broken), procs 100: CPU"), "the checker catches it");
        assertTrue(r.out().lines().filter(l -> l.startsWith("   preallocate ")).anyMatch(l -> l.contains(" 262144 ")),
                "preallocate's boot page tables on x86-64 are mail 001's 256 KiB");
    }
}
