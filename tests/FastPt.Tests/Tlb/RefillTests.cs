using FastPt.Hardware;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tlb;

/// <summary>The TLB refill (the miss path that runs before the general one): a walk from the root, the partial walks
/// it caches, the non-canonical addresses only a walk can meet, and frames whose host memory was never reserved.</summary>
public class RefillTests
{
    private static readonly VirtAddr Base = V(1UL << 39);

    [Fact]
    public void A_full_miss_walks_once_and_caches_both_partial_walks()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        // Two 2 MiB regions under one PMD table: two PTE tables.
        space.Map(Base, P(1 * GiB), 2 * Page, Protection.ReadWrite, PageSize.Size4K);
        space.Map(Base + 2 * MiB, P(1 * GiB + 2 * Page), Page, Protection.Read, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();

        Assert.True(cpu.TryTranslate(Base + 0x10, AccessKind.Read, out PhysAddr pa));
        Assert.Equal(1 * GiB + 0x10, pa.Value);
        Assert.Equal((1L, 1L, 0L, 0L), Counts(cpu));
        // The neighbour page: its PTE table was cached by the walk.
        Assert.True(cpu.TryTranslate(Base + Page + 0x20, AccessKind.Write, out pa));
        Assert.Equal(1 * GiB + Page + 0x20, pa.Value);
        Assert.Equal((2L, 1L, 1L, 0L), Counts(cpu));
        // The other region: its PMD table was cached by the walk.
        Assert.True(cpu.TryTranslate(Base + 2 * MiB + 0x30, AccessKind.Read, out pa));
        Assert.Equal(1 * GiB + 2 * Page + 0x30, pa.Value);
        Assert.Equal((3L, 1L, 1L, 1L), Counts(cpu));
        // A write the leaf forbids faults through the general path, which delivers the fault.
        Assert.False(cpu.TryTranslate(Base + 2 * MiB, AccessKind.Write, out _));
        Assert.Equal(FaultReason.ProtectionViolation, cpu.Translate(Base + 2 * MiB, AccessKind.Write).Fault.Reason);
    }

    /// <summary>The caches are tagged with the whole address, but a walk indexes the root with bits 39–47 only: the
    /// non-canonical alias of a mapped higher-half address must fault, before and after the canonical one was
    /// cached. (Found by the model test: a refill walk without the canonical check translated 0x800000000005.)</summary>
    [Fact]
    public void The_walk_refuses_the_non_canonical_alias_of_a_mapped_address()
    {
        using Machine machine = Create(1 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace(AddressSpaceLayout.FullCanonical);
        VirtAddr high = V(0xFFFF_8000_0000_0000);
        VirtAddr alias = V(0x0000_8000_0000_0000);
        space.Map(high, P(16 * MiB), Page, Protection.Read, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        Assert.False(cpu.TryTranslate(alias + 5, AccessKind.Read, out _));
        Assert.True(cpu.TryTranslate(high + 5, AccessKind.Read, out PhysAddr pa));
        Assert.Equal(16 * MiB + 5, pa.Value);
        Assert.False(cpu.TryTranslate(alias + 5, AccessKind.Read, out _));
        Assert.Equal(FaultReason.NonCanonical, cpu.Translate(alias + 5).Fault.Reason);
    }

    /// <summary>A frame in a section whose host arena was never reserved (never read or written): the refill peeks
    /// at host pointers and leaves it to the general path, which reserves the arena; the translation is the same
    /// either way, and once reserved the refill takes it.</summary>
    [Fact]
    public unsafe void A_frame_in_a_section_never_touched_translates_through_the_general_path()
    {
        using Machine machine = Create(4 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        // A 128 MiB section nothing was read or written in yet.
        ulong frame = 0;
        for (ulong section = 0; section < 4 * GiB; section += PhysicalMemory.ArenaSize)
        {
            if (machine.Memory.Physical.PeekPointer(section) != null) continue;
            frame = section + 5 * Page;
            break;
        }
        Assert.NotEqual(0UL, frame);
        space.Map(Base, P(frame), Page, Protection.Read, PageSize.Size4K);
        using MmuContext cpu = space.CreateContext();
        Assert.True(cpu.TryTranslate(Base + 7, AccessKind.Read, out PhysAddr pa));
        Assert.Equal(frame + 7, pa.Value);
        Assert.True(machine.Memory.Physical.PeekPointer(frame) != null);
        cpu.FlushLocal();
        long walks = cpu.Statistics.Walks;
        Assert.True(cpu.TryTranslate(Base + 9, AccessKind.Read, out pa));
        Assert.Equal(frame + 9, pa.Value);
        Assert.Equal(walks + 1, cpu.Statistics.Walks);
    }

    private static (long Misses, long Walks, long PmdCacheHits, long PudCacheHits) Counts(MmuContext cpu)
    {
        TlbStatistics s = cpu.Statistics;
        return (s.Misses, s.Walks, s.PmdCacheHits, s.PudCacheHits);
    }
}
