package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import ptlab.hw.PhysicalMemory;

/** The cost meter charges n accesses counted at once exactly as n accesses one by one. */
class CostMeterTest {

    @Test
    void bulkChargeEqualsOneChargePerAccess() {
        CostTable costs = CostTable.defaults();
        for (int op : new int[] {PhysicalMemory.OP_LOAD, PhysicalMemory.OP_STORE, PhysicalMemory.OP_CAS}) {
            for (boolean walk : new boolean[] {false, true}) {
                CostMeter one = new CostMeter(costs);
                CostMeter bulk = new CostMeter(costs);
                if (walk) {
                    one.walkBegin();
                    bulk.walkBegin();
                }
                for (int i = 0; i < 37; i++) {
                    one.beforeAccess(op, 0x1000L * i);
                }
                bulk.beforeAccesses(op, 37);
                assertTrue(one.cycles() > 0);
                assertEquals(one.cycles(), bulk.cycles(), "op " + op + (walk ? " in a walk" : ""));
                assertEquals(37, bulk.accesses());
            }
        }
        assertTrue(new CostMeter(costs).onlyCounts(), "it may be told of accesses in bulk");
    }
}
