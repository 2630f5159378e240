using System.Linq;
using FastPt.Geometry;
using FastPt.HugeTlb;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.HugeTlb.HvoMachines;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.HugeTlb;

/// <summary>The interleaving behind the rare failure of the pool-users stress, forced: two folios whose descriptors
/// share one 2 MiB vmemmap block, and the second folio's optimization splits that block between the first one's
/// walker seeing the leaf and its split starting. The first split must then see the other's table and leave it
/// alone; splitting "the block" behind a table entry mapped the 2 MiB around the table page as vmemmap and freed
/// pages of it that were still in use.</summary>
public sealed unsafe class HvoSplitRaceTests
{
    public static TheoryData<HvoDesign> AllDesigns => new(Designs);

    [Theory]
    [MemberData(nameof(AllDesigns))]
    public void A_split_that_finds_the_pmd_split_meanwhile_leaves_it(HvoDesign design)
    {
        using Machine machine = Boot(design, 4 * GiB, optimize: false, checkedMode: true);
        machine.HugeTlb.SetPoolSize(PageSize.Size2M, 16);
        Hstate h = machine.HugeTlb.Core.For(PageSize.Size2M);
        HugetlbVmemmap vmemmap = machine.HugeTlb.Core.Vmemmap;
        KernelLayout layout = machine.Memory.Layout;
        Folio[] folios = h.FreeList.Select(pfn => new Folio(pfn, h.Order)).ToArray();
        // Two folios in one vmemmap PMD block (64 2 MiB folios share one).
        (Folio a, Folio b) = folios.SelectMany(x => folios.Where(y => y.HeadPfn != x.HeadPfn
                && layout.DescriptorAddress(x.HeadPfn) >> 21 == layout.DescriptorAddress(y.HeadPfn) >> 21)
            .Select(y => (x, y))).First();
        MemmapCounts before = MemmapCounts.Of(machine);
        long splitsBefore = h.Counters.Splits;

        int hooked = 0;
        vmemmap.BeforeSplitPmd = () =>
        {
            // The other thread, between this split's walker check and the split itself.
            if (hooked++ != 0) return;
            vmemmap.BeforeSplitPmd = null;
            Assert.Equal(1, vmemmap.Optimize([b], batched: false, h.Counters));
        };
        Assert.Equal(1, vmemmap.Optimize([a], batched: true, h.Counters));
        vmemmap.BeforeSplitPmd = null;
        Assert.Equal(1, hooked);
        // One split of the shared block, by the folio that got there first.
        Assert.Equal(splitsBefore + 1, h.Counters.Splits);
        Memmap memmap = machine.Memory.Memmap;
        foreach (Folio f in new[] { a, b })
            for (ulong i = 0; i < 512; i += 37)
                using (machine.Memory.Rcu.Read())
                    Assert.Equal(f.HeadPfn, memmap.CompoundHead(f.HeadPfn + i));
        Assert.Equal(2, vmemmap.Restore([a, b], batched: true, h.Counters));
        machine.HugeTlb.SetPoolSize(PageSize.Size2M, 0);
        Assert.Equal(before.Total + machine.HugeTlb.GetStatistics().SharedTailPages, MemmapCounts.Of(machine).Total);
    }
}
