using FastPt.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

/// <summary>Boot cost at scale: the goals of booting 1 TiB in 256 MiB and 64 TiB (the 4-level maximum) in 1 GiB of
/// host memory, measured by the engine's own accounting (host bytes written, 2 MiB per chunk touched) and by the
/// peak resident size of the process, with every counter what the memory map says it must be.</summary>
[Collection("Serial")]
public class LargeMachineTests
{
    private const ulong TiB = 1UL << 40;
    private const ulong Section = 128 * MiB;

    /// <summary>Boots <paramref name="memory"/> and checks the host cost and the boot counters.</summary>
    private static Machine BootWithin(ulong memory, long hostBudget)
    {
        long? before = HostMemory.ResetPeak();
        var machine = new Machine(new MachineOptions { MemorySize = memory });
        if (before is { } resident)
        {
            long grown = HostMemory.Peak() - resident;
            Assert.True(grown < hostBudget, $"booting {memory >> 30} GiB peaked at {grown >> 20} MiB above the {resident >> 20} MiB before");
        }
        MemoryStatistics s = machine.GetStatistics();
        Assert.True(s.HostBytes < hostBudget, $"boot wrote into {s.HostBytes >> 20} MiB of chunks");
        long sections = (long)(memory / Section);
        Assert.Equal(sections, s.PresentSections);
        Assert.Equal(sections, s.OnlineSections);
        Assert.Equal(sections * 512, s.MemmapBootPages);
        Assert.Equal((long)(memory >> 12), s.PresentPages);
        // memblock reserved exactly the boot memmap, the boot page tables and the zero page; everything else is free.
        Assert.Equal(s.PresentPages - s.MemmapBootPages - s.PageTablePages - 1, s.ManagedPages);
        Assert.Equal(s.ManagedPages, s.FreePages);
        long buddy = 0;
        for (int o = 0; o < s.FreeBlocksPerOrder.Count; o++) buddy += s.FreeBlocksPerOrder[o] << o;
        Assert.Equal(s.FreePages, buddy);
        Assert.Equal((long)(memory >> 10), s.DirectMap1GiB + s.DirectMap2MiB + s.DirectMap4KiB);
        return machine;
    }

    [Fact]
    public void A_terabyte_machine_boots_in_256_MiB()
    {
        using Machine machine = BootWithin(1 * TiB, 256 * (long)MiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(1UL << 39), P(900 * GiB), 4 * GiB, Protection.ReadWrite);
        Assert.Equal(4, space.LeafCount(PageSize.Size1G));
    }

    [Fact]
    public void A_64_TiB_machine_boots_in_1_GiB_and_its_boot_memory_can_be_removed()
    {
        using Machine machine = BootWithin(64 * TiB, 1L << 30);
        MemoryStatistics boot = machine.GetStatistics();
        Assert.True(machine.Memory.Buddy.DeferredBlocks > 60_000);

        // A section in the middle: its boot memmap block goes back through free_reserved_page.
        HotplugReport section = machine.RemoveMemory(P(32 * TiB + 5 * Section), Section);
        Assert.Equal(-512, section.MemmapBootPagesDelta);
        Assert.Equal(-512, section.MemmapFramesDelta);
        Assert.Equal(-(long)(Section >> 12) + 512, section.ManagedPagesDelta);
        // A gigabyte that boot kept as a deferred max-order block.
        long deferred = machine.Memory.Buddy.DeferredBlocks;
        HotplugReport gigabyte = machine.RemoveMemory(P(40 * TiB), 1 * GiB);
        // Its eight sections are empty now: their boot memmap blocks are freed too.
        Assert.Equal(-8 * 512, gigabyte.MemmapBootPagesDelta);
        Assert.Equal(-(long)(GiB >> 12) + 8 * 512, gigabyte.ManagedPagesDelta);
        Assert.Equal(deferred - 1, machine.Memory.Buddy.DeferredBlocks);
        MemoryStatistics removed = machine.GetStatistics();
        // The gigabyte around the section and the removed gigabyte are the two max-order blocks fewer.
        Assert.Equal(boot.FreeBlocksPerOrder[BuddyAllocator.MaxOrder] - 2, removed.FreeBlocksPerOrder[BuddyAllocator.MaxOrder]);
        // Only the PMD table that split the section's 1 GiB direct-map leaf is in use.
        Assert.Equal(boot.PageTablePages + 1, removed.PageTablePages);
        Assert.Equal(removed.ManagedPages - 1, removed.FreePages);
        Assert.Equal(boot.PresentPages - (long)((Section + GiB) >> 12), removed.PresentPages);

        // The memmap is busy; the gigabyte comes back, and a 1 GiB block is handed out and mapped.
        Assert.Equal(HotplugError.Busy, Assert.Throws<HotplugException>(() => machine.RemoveMemory(P(64 * TiB - Section), Section)).Error);
        machine.AddMemory(P(40 * TiB), 1 * GiB);
        PhysAddr block = machine.AllocatePhysical(1 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(1UL << 39), block, 1 * GiB, Protection.ReadWrite);
        space.Write(V((1UL << 39) + 8), 42UL);
        Assert.Equal(42UL, space.Read<ulong>(V((1UL << 39) + 8)));
        Assert.True(machine.HostBytes < 1L << 30);
    }
}
