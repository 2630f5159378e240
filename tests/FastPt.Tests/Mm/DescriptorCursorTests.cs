using FastPt.HugeTlb;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.HugeTlb.HvoMachines;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

/// <summary><see cref="DescriptorCursor"/>: the bulk paths' cache of descriptor pages gives what the kernel TLB gives,
/// faults where it faults, and forgets every page at a kernel TLB flush.</summary>
public sealed unsafe class DescriptorCursorTests
{
    /// <summary>A frozen 2 MiB pool folio, not optimized yet.</summary>
    private static Folio PoolFolio(Machine machine)
    {
        machine.HugeTlb.SetPoolSize(PageSize.Size2M, 1);
        Hstate h = machine.HugeTlb.Core.For(PageSize.Size2M);
        return new Folio(h.FreeList[0], h.Order);
    }

    [Fact]
    public void Cached_lookups_give_the_descriptors_the_plain_lookups_give()
    {
        using Machine machine = Create(checkedMode: false);
        Memmap memmap = machine.Memory.Memmap;
        var cursor = new DescriptorCursor();
        // Frames within a page, across neighbouring pages, and 16 and 17 pages apart (the same entry, evicting each
        // other), read and written in turn.
        ulong[] offsets = [0, 1, 63, 64, 65, 127, 16 * 64, 16 * 64 + 5, 17 * 64 + 9, 0, 32 * 64 + 63, 1, 16 * 64];
        const ulong Base = 0x4000;
        for (int round = 0; round < 2; round++)
        {
            foreach (ulong offset in offsets)
            {
                ulong pfn = Base + offset;
                Assert.True(memmap.Get(pfn) == memmap.GetCached(pfn, ref cursor), $"read of pfn 0x{pfn:x}");
                Assert.True(memmap.GetMutable(pfn) == memmap.GetMutableCached(pfn, ref cursor), $"write of pfn 0x{pfn:x}");
            }
        }
    }

    [Theory]
    [InlineData(HvoDesign.Linux6x)]
    [InlineData(HvoDesign.SharedTail)]
    public void A_write_through_a_cursor_to_a_read_only_tail_faults_after_a_read_cached_its_page(HvoDesign design)
    {
        using Machine machine = Boot(design, optimize: false);
        Folio folio = PoolFolio(machine);
        Assert.Equal(1, machine.HugeTlb.Core.Vmemmap.Optimize([folio], batched: true, machine.HugeTlb.Core.For(PageSize.Size2M).Counters));
        Memmap memmap = machine.Memory.Memmap;
        ulong tail = folio.HeadPfn + 2 * 64 + 3; // in the folio's third vmemmap page: mapped read-only
        var cursor = new DescriptorCursor();
        Assert.True(memmap.Get(tail) == memmap.GetCached(tail, ref cursor));
        Assert.Throws<KernelFaultException>(() => memmap.GetMutableCached(tail, ref cursor)->RefCount++);
        // The read entry is still good for reads.
        Assert.True(memmap.Get(tail) == memmap.GetCached(tail, ref cursor));
    }

    [Fact]
    public void A_kernel_tlb_flush_empties_the_cursor()
    {
        using Machine machine = Boot(HvoDesign.Linux6x, optimize: false);
        Folio folio = PoolFolio(machine);
        Memmap memmap = machine.Memory.Memmap;
        ulong tail = folio.HeadPfn + 2 * 64 + 3;
        var cursor = new DescriptorCursor();
        PageDescriptor* before = memmap.GetCached(tail, ref cursor);
        Assert.True(memmap.Get(tail) == before);
        long generation = memmap.FlushGeneration;

        // Optimizing remaps the tail's vmemmap page onto the head's page and flushes the kernel TLB.
        Assert.Equal(1, machine.HugeTlb.Core.Vmemmap.Optimize([folio], batched: true, machine.HugeTlb.Core.For(PageSize.Size2M).Counters));
        Assert.NotEqual(generation, memmap.FlushGeneration);
        PageDescriptor* after = memmap.Get(tail);
        Assert.True(after != before, "the remap must move the tail's descriptor to another host page");
        Assert.True(after == memmap.GetCached(tail, ref cursor), "the cursor kept a translation the flush removed");
    }
}
