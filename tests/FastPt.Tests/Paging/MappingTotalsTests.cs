using System.Collections.Generic;
using System.Linq;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary><see cref="AddressSpace.CountMappings"/> and <see cref="Machine.CountKernelMappings"/>: the uncapped
/// accounting counterpart of a dump.</summary>
public class MappingTotalsTests
{
    private static MappingCount Sum(IEnumerable<MappingRun> runs) =>
        new(runs.LongCount(), runs.Sum(run => run.Pages), (ulong)runs.Sum(run => (long)run.Length));

    [Fact]
    public void Counts_equal_the_sums_of_an_uncapped_dump_per_page_size()
    {
        using Machine machine = Create(4 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        ulong va = 0x40_0000_0000;
        space.Map(V(va), P(0), GiB, Protection.ReadWrite, PageSize.Size1G);
        space.Map(V(va + GiB), P(GiB), 64 * MiB, Protection.ReadWrite, PageSize.Size2M);
        space.Map(V(va + 2 * GiB), P(2 * GiB), 3 * MiB, Protection.ReadWrite, PageSize.Size4K);
        space.Protect(V(va + 2 * GiB + MiB), 4096, Protection.Read);   // cuts the 4K run in three
        space.Protect(V(va + GiB + 8 * MiB), 4096, Protection.Read);   // splits a 2M leaf into 4K leaves

        MappingTotals totals = space.CountMappings(V(va), 3 * GiB);
        IReadOnlyList<MappingRun> runs = space.Dump(V(va), 3 * GiB, int.MaxValue);
        foreach (PageSize size in new[] { PageSize.Size4K, PageSize.Size2M, PageSize.Size1G })
            Assert.Equal(Sum(runs.Where(run => run.PageSize == size)), totals.Of(size));
        Assert.Equal(Sum(runs), totals.Total);
        Assert.Equal(space.MappedBytes, totals.Total.Bytes);
        Assert.Equal(space.LeafCount(PageSize.Size4K), totals.Size4K.Leaves);
        Assert.Equal(1, totals.Size1G.Leaves);
    }

    [Fact]
    public void Counts_have_no_limit_where_a_default_dump_stops()
    {
        using Machine machine = Create(4 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        const int Pages = 120_000;
        ulong va = 0x40_0000_0000;
        // Every other physical page: no two leaves merge into a run.
        for (ulong i = 0; i < Pages; i++) space.Map(V(va + i * Page), P(2 * i * Page), Page, Protection.ReadWrite);

        Assert.Equal(100_000, space.Dump(V(va), Pages * Page).Count);
        MappingTotals totals = space.CountMappings(V(va), Pages * Page);
        Assert.Equal(new MappingCount(Pages, Pages, Pages * Page), totals.Size4K);
        Assert.Equal(totals.Size4K, totals.Total);
    }

    [Fact]
    public void The_kernel_vmemmap_counts_as_the_boot_memmap()
    {
        using Machine machine = Create(4 * GiB, checkedMode: false);
        MemoryStatistics stats = machine.GetStatistics();
        MappingTotals vmemmap = machine.CountKernelMappings(machine.VmemmapBase, 32 * 2 * MiB);
        Assert.Equal((ulong)stats.MemmapBootPages * Page, vmemmap.Total.Bytes);
        MappingTotals direct = machine.CountKernelMappings(machine.DirectMapBase, 4 * GiB);
        Assert.Equal(4 * GiB, direct.Total.Bytes);
        Assert.Equal(stats.DirectMap1GiB / (long)(GiB / KiB), direct.Size1G.Leaves);
        Assert.Equal(default, machine.CountKernelMappings(machine.DirectMapBase + 8 * GiB, GiB).Total);
    }
}
