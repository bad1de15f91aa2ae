package ptlab.tools;

import java.util.List;

import ptlab.tools.scenarios.Bench2x200;
import ptlab.tools.scenarios.FreePgtablesVsWalk;
import ptlab.study.relocation.PaeTornEntry;
import ptlab.study.relocation.ParavirtBypass;
import ptlab.study.relocation.RelocationDirty;
import ptlab.study.vmallocsync.HotplugKernelMapping;
import ptlab.tools.scenarios.PteClearVsDirty;
import ptlab.tools.scenarios.TlbGenVsCpumask;
import ptlab.tools.scenarios.TlbStaleAfterUnmap;
import ptlab.study.vmallocsync.VmallocFaultInNmi;
import ptlab.study.vmallocsync.VmallocSyncRace;
import ptlab.engine.Scenario;
import ptlab.study.faultlocking.FaultsVsWriters;
import ptlab.study.faultlocking.ForkVsVmaFault;
import ptlab.study.faultlocking.PteReclaimVsFault;
import ptlab.study.faultlocking.SpeculativeVsMunmap;

/** The scenarios {@code ptlab explore} knows, by name. */
public final class Scenarios {

    private static final List<Scenario> ALL = List.of(new TlbStaleAfterUnmap(), new PteClearVsDirty(),
            new FreePgtablesVsWalk(), new Bench2x200(), new VmallocSyncRace(),
            new HotplugKernelMapping(), new VmallocFaultInNmi(),
            new RelocationDirty(), new SpeculativeVsMunmap(), new ForkVsVmaFault(), new PteReclaimVsFault(),
            new FaultsVsWriters(), new TlbGenVsCpumask(), new PaeTornEntry(), new ParavirtBypass());

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
