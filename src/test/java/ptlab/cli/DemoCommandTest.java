package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DemoCommandTest {

    @Test
    void demoRunsEverySectionAndExitsZero() {
        Cli.Run r = Cli.run("demo");
        assertEquals(0, r.code(), r.err());
        for (String section : new String[] {"== 1. Page walks", "== 2. TLB behaviour", "== 3. A process"}) {
            assertTrue(r.out().contains(section), section + " missing:\n" + r.out());
        }
        assertTrue(r.out().contains("x86-64-la57     256        5           5/0     0xc41d    1      0x1000"),
                r.out());
    }
}
