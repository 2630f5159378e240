using System.Threading;
using PageGeometry = FastPt.Geometry.Paging;
using FastPt.Hardware;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tlb;

/// <summary>Checked mode must catch the bug class "free before flush": these tests commit it on purpose by going
/// around the gather (which makes it impossible through the engine's own paths).</summary>
public unsafe class CheckedModeTests
{
    private static readonly VirtAddr Base = V(1UL << 39);

    [Fact]
    public void A_table_freed_before_the_flush_is_caught_through_the_paging_structure_cache()
    {
        using Machine machine = Create(2 * GiB, checkedMode: true);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(Base, P(1 * GiB), 2 * MiB, Protection.Read, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        Assert.True(cpu.TryTranslate(Base, AccessKind.Read, out _)); // caches the PTE table of this 2 MiB region

        // The wrong order: clear the PMD entry and free the PTE table, with no flush in between.
        MemoryManager memory = machine.Memory;
        ulong pmdEntryPa = FindEntry(memory, space.Mm, Base.Value, PageGeometry.PmdLevel);
        ulong* pmdEntry = memory.Physical.TableForWrite(pmdEntryPa);
        ulong pteTable = PageTableEntry.TableAddress(*pmdEntry);
        Volatile.Write(ref *pmdEntry, 0);
        memory.Buddy.Free(pteTable >> 12, 0);

        var error = Assert.Throws<UseAfterFreeException>(() => cpu.TryTranslate(Base + 5 * Page, AccessKind.Read, out _));
        Assert.Equal(pteTable, error.FreedFrame.Value);
        Assert.Equal(1, machine.GetStatistics().UseAfterFreeDetected);
    }

    [Fact]
    public void A_data_frame_freed_before_the_flush_is_caught_on_the_tlb_hit()
    {
        using Machine machine = Create(2 * GiB, checkedMode: true);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frame = machine.AllocatePhysical(Page);
        space.Map(Base, frame, Page, Protection.ReadWrite);
        using MmuContext cpu = space.CreateContext();
        cpu.Write(Base, 7UL);

        MemoryManager memory = machine.Memory;
        ulong pteEntryPa = FindEntry(memory, space.Mm, Base.Value, PageGeometry.PteLevel);
        Volatile.Write(ref *memory.Physical.TableForWrite(pteEntryPa), 0);
        machine.FreePhysical(frame, Page);

        var error = Assert.Throws<UseAfterFreeException>(() => cpu.Read<ulong>(Base));
        Assert.Equal(frame, error.FreedFrame);
    }

    [Fact]
    public void The_real_paths_free_after_flushing_so_checked_mode_stays_quiet()
    {
        using Machine machine = Create(2 * GiB, checkedMode: true);
        using AddressSpace space = machine.CreateAddressSpace();
        using MmuContext cpu = space.CreateContext();
        for (int round = 0; round < 50; round++)
        {
            space.Map(Base, P(1 * GiB), 4 * MiB, Protection.ReadWrite, PageSize.Size4K);
            for (ulong a = 0; a < 4 * MiB; a += 64 * Page) Assert.True(cpu.TryTranslate(Base + a, AccessKind.Read, out _));
            space.Unmap(Base, 4 * MiB);
            for (ulong a = 0; a < 4 * MiB; a += 64 * Page) Assert.False(cpu.TryTranslate(Base + a, AccessKind.Read, out _));
        }
        Assert.Equal(0, machine.GetStatistics().UseAfterFreeDetected);
    }

    /// <summary>Physical address of the entry at <paramref name="level"/> that maps <paramref name="va"/>.</summary>
    private static ulong FindEntry(MemoryManager memory, MmStruct mm, ulong va, int level)
    {
        ulong table = mm.RootPa;
        for (int l = mm.RootLevel; ; l--)
        {
            ulong entryPa = table + (ulong)PageGeometry.Index(l, va) * 8;
            if (l == level) return entryPa;
            table = PageTableEntry.TableAddress(*memory.Physical.TableForRead(entryPa));
        }
    }
}
