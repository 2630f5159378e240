using System;
using System.Collections.Generic;
using FastPt.HugeTlb;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.HugeTlb.HvoMachines;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.HugeTlb;

/// <summary>What reading and writing descriptors of an optimized folio gives, in both designs: the same compound
/// state before, during and after; the raw bytes the design implies; a fault on every write through a read-only tail
/// mapping; and the kernel's own HVO selftest (tools/testing/selftests/mm/hugepage-vmemmap.c) run against
/// <see cref="AddressSpace.GetPagemapEntry"/> and <see cref="Machine.GetPageFlags"/>.</summary>
public sealed unsafe class HvoDescriptorTests
{
    public static TheoryData<HvoDesign, PageSize> DesignsAndSizes => new()
    {
        { HvoDesign.Linux6x, PageSize.Size2M }, { HvoDesign.Linux6x, PageSize.Size1G },
        { HvoDesign.SharedTail, PageSize.Size2M }, { HvoDesign.SharedTail, PageSize.Size1G },
    };

    private readonly record struct View(ulong Head, bool IsHead, bool IsTail, KPageFlags Flags);

    private static View Logical(Machine machine, ulong pfn)
    {
        Memmap memmap = machine.Memory.Memmap;
        return new View(memmap.CompoundHead(pfn), memmap.PageHead(pfn), memmap.PageTail(pfn), machine.GetPageFlags(pfn));
    }

    /// <summary>A frozen pool folio allocated with the switch off, so each test optimizes it itself.</summary>
    private static Folio PoolFolio(Machine machine, PageSize size)
    {
        machine.HugeTlb.SetPoolSize(size, 1);
        Hstate h = machine.HugeTlb.Core.For(size);
        return new Folio(h.FreeList[0], h.Order);
    }

    [Theory]
    [MemberData(nameof(DesignsAndSizes))]
    public void Descriptors_read_the_same_before_after_optimize_and_after_restore(HvoDesign design, PageSize size)
    {
        using Machine machine = Boot(design, 4 * GiB, optimize: false);
        Folio folio = PoolFolio(machine, size);
        HvoCounters counters = machine.HugeTlb.Core.For(size).Counters;
        int n = (int)folio.Pages;
        var raw = new PageDescriptor[n];
        var logical = new View[n];
        for (int i = 0; i < n; i++)
        {
            raw[i] = Descriptor(machine, folio.HeadPfn + (ulong)i);
            logical[i] = Logical(machine, folio.HeadPfn + (ulong)i);
            Assert.Equal(folio.HeadPfn, logical[i].Head);
        }
        Assert.True(logical[0].IsHead);
        Assert.Equal(KPageFlags.CompoundHead | KPageFlags.Huge, logical[0].Flags);

        Assert.Equal(1, machine.HugeTlb.Core.Vmemmap.Optimize([folio], batched: true, counters));
        int fakeHeads = 0;
        for (int i = 0; i < n; i++)
        {
            ulong pfn = folio.HeadPfn + (ulong)i;
            Assert.Equal(logical[i], Logical(machine, pfn));
            PageDescriptor now = Descriptor(machine, pfn);
            if (i == 0)
            {
                Assert.Equal(raw[0].Private | HugetlbPageFlags.VmemmapOptimized, now.Private);
                continue;
            }
            bool fakeHead = (now.Flags & PageFlags.Head) != 0;
            fakeHeads += fakeHead ? 1 : 0;
            // 6.x: every tail page maps the head's page, so descriptors 64k (and 64k + 1) read as the head (and
            // the first tail). Shared tails: every tail reads exactly what it held.
            if (design == HvoDesign.Linux6x && i % 64 is 0 or 1) continue;
            Assert.Equal(raw[i], now);
        }
        Assert.Equal(design == HvoDesign.Linux6x ? n / 64 - 1 : 0, fakeHeads);

        Assert.Equal(1, machine.HugeTlb.Core.Vmemmap.Restore([folio], batched: true, counters));
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(raw[i], Descriptor(machine, folio.HeadPfn + (ulong)i));
            Assert.Equal(logical[i], Logical(machine, folio.HeadPfn + (ulong)i));
        }
    }

    [Theory]
    [MemberData(nameof(DesignsAndSizes))]
    public void Writes_to_tail_descriptors_of_an_optimized_folio_fault(HvoDesign design, PageSize size)
    {
        using Machine machine = Boot(design, 4 * GiB);
        machine.HugeTlb.SetPoolSize(size, 2);
        Hstate h = machine.HugeTlb.Core.For(size);
        ulong head = h.FreeList[0], other = h.FreeList[1];
        Memmap memmap = machine.Memory.Memmap;
        ulong pages = 1UL << h.Order;
        foreach (ulong tail in new[] { head + 64, head + 65, head + pages / 2, head + pages - 1 })
        {
            PageDescriptor before = Descriptor(machine, tail);
            KernelFaultException fault = Assert.Throws<KernelFaultException>(() => memmap.GetMutable(tail)->RefCount++);
            Assert.True(fault.Write);
            Assert.Contains("read-only vmemmap", fault.Message, StringComparison.Ordinal);
            Assert.Equal(before, Descriptor(machine, tail));
        }
        // The head's own page stays writable: the head and the first 63 tails (folio metadata) live there.
        memmap.GetMutable(head + 1)->Mapping = 0;

        // What the tail pages map: the head's page (6.x) or one shared page for every folio of the size (2026).
        ulong headPage = BackingFrame(machine, head);
        ulong tailPage = BackingFrame(machine, head + 64), otherTailPage = BackingFrame(machine, other + 64);
        if (design == HvoDesign.Linux6x)
        {
            Assert.Equal(headPage, tailPage);
            Assert.NotEqual(tailPage, otherTailPage);
        }
        else
        {
            Assert.NotEqual(headPage, tailPage);
            Assert.Equal(tailPage, otherTailPage);
        }
        Assert.Equal(Protection.Read, machine.LookupKernel(machine.VmemmapBase + (head + 64) * 64)!.Value.Protection & Protection.ReadWrite);
    }

    [Theory]
    [MemberData(nameof(DesignsAndSizes))]
    public void The_kernel_hvo_selftest_passes(HvoDesign design, PageSize size)
    {
        using Machine machine = Boot(design, 4 * GiB);
        machine.HugeTlb.SetPoolSize(size, 1);
        using AddressSpace space = machine.CreateAddressSpace();
        HugeTlbFolio folio = machine.HugeTlb.AllocateFolio(size);
        var address = new VirtAddr(1UL << 39);
        machine.HugeTlb.MapFolio(space, address, folio, Protection.ReadWrite);
        Assert.True(machine.HugeTlb.IsVmemmapOptimized(folio));
        Assert.Equal(size, space.Lookup(address)!.Value.Size);
        space.Write(address, 0x5a5a5a5aUL); // write_bytes(): touch the mapping

        // virt_to_pfn(): /proc/self/pagemap at addr / pagesize.
        PagemapEntry entry = space.GetPagemapEntry(address);
        Assert.True(entry.Present);
        ulong pfn = entry.Pfn;
        Assert.Equal(folio.Pfn, pfn);

        // check_page_flags(): the head reads HEAD|HUGE, every other page TAIL|HUGE and never HEAD|HUGE.
        const ulong headFlags = (ulong)(KPageFlags.CompoundHead | KPageFlags.Huge);
        const ulong tailFlags = (ulong)(KPageFlags.CompoundTail | KPageFlags.Huge);
        var flags = new ulong[1UL << ((int)size - 12)];
        machine.ReadPageFlags(pfn, flags);
        Assert.Equal(headFlags, flags[0] & headFlags);
        for (int i = 1; i < flags.Length; i++)
        {
            Assert.Equal(tailFlags, flags[i] & tailFlags);
            Assert.NotEqual(headFlags, flags[i] & headFlags);
        }
        // The pagemap of every 4 KiB page of the leaf names its own frame.
        var entries = new PagemapEntry[flags.Length];
        space.ReadPagemap(address, entries);
        for (int i = 0; i < entries.Length; i++) Assert.Equal(pfn + (ulong)i, entries[i].Pfn);

        // The check is not vacuous in 6.x: reading PG_head straight from the descriptors shows the fake heads.
        bool rawFakeHead = (Descriptor(machine, pfn + 64).Flags & PageFlags.Head) != 0;
        Assert.Equal(design == HvoDesign.Linux6x, rawFakeHead);
    }

    [Fact]
    public void Page_flags_name_buddy_page_table_reserved_and_missing_frames()
    {
        using Machine machine = Boot(HvoDesign.Linux6x, 1 * GiB);
        ulong root = machine.Memory.InitMm.RootPa >> 12;
        Assert.Equal(KPageFlags.PageTable | KPageFlags.Reserved, machine.GetPageFlags(root) & (KPageFlags.PageTable | KPageFlags.Reserved));
        Assert.Equal(KPageFlags.NoPage, machine.GetPageFlags((4 * GiB) >> 12));
        PhysAddr data = machine.AllocatePhysical(4096);
        Assert.Equal(KPageFlags.None, machine.GetPageFlags(data.Pfn));
        machine.FreePhysical(data, 4096);
        var buddy = new List<ulong>();
        for (ulong pfn = 0; pfn < (GiB >> 12); pfn++)
            if ((machine.GetPageFlags(pfn) & KPageFlags.Buddy) != 0) buddy.Add(pfn);
        Assert.NotEmpty(buddy);
        Assert.All(buddy, pfn => Assert.True(machine.Memory.Buddy.IsFree(pfn)));
    }
}
