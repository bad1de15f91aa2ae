package ptlab.sim;

import java.util.List;

import ptlab.sim.scenarios.Bench2x200;
import ptlab.sim.scenarios.FreePgtablesVsWalk;
import ptlab.sim.scenarios.HotplugKernelMapping;
import ptlab.sim.scenarios.PteClearVsDirty;
import ptlab.sim.scenarios.TlbStaleAfterUnmap;
import ptlab.sim.scenarios.VmallocFaultInNmi;
import ptlab.sim.scenarios.VmallocSyncRace;

/** The scenarios {@code ptlab explore} knows, by name. */
public final class Scenarios {

    private static final List<Scenario> ALL = List.of(new TlbStaleAfterUnmap(), new PteClearVsDirty(),
            new FreePgtablesVsWalk(), new Bench2x200(), new VmallocSyncRace(),
            new HotplugKernelMapping(), new VmallocFaultInNmi());

    private Scenarios() {
    }

    public static List<Scenario> all() {
        return ALL;
    }

    public static Scenario byName(String name) {
        for (Scenario s : ALL) {
            if (s.name().equals(name)) {
                return s;
            }
        }
        StringBuilder sb = new StringBuilder();
        for (Scenario s : ALL) {
            sb.append(sb.length() == 0 ? "" : ", ").append(s.name());
        }
        throw new IllegalArgumentException("unknown scenario '" + name + "' (known: " + sb + ")");
    }
}
