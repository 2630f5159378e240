using System;
using System.Threading;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tlb;

/// <summary>Translators on several threads race a thread that maps, unmaps, remaps and re-protects 2 MiB slots
/// (freeing their page tables each time), in checked mode: freed tables and frames are poisoned, so any
/// translation that used a stale TLB entry or cached partial walk after the change finished is caught, either by
/// a wrong answer or by a use-after-free report. Each slot carries a version (seqlock): a translation is checked
/// only when no change to its slot began or ended while it ran.</summary>
public class ConcurrencyStressTests
{
    private const int Slots = 24;
    private static readonly VirtAddr Base = V(1UL << 39);

    private sealed class Slot
    {
        public long Version;       // odd while the mutator changes the slot
        public bool Mapped;
        public ulong Frame;        // physical address of the slot's first page
        public bool Writable;
        public bool Huge;
    }

    [Fact]
    public void Translations_racing_unmap_remap_and_protect_are_never_stale()
    {
        // Each side runs until it has verified (or made) its own share of every outcome (FASTPT_STRESS_SECONDS asks
        // for a longer run); the time bound only ends a run that cannot get there.
        int seconds = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_SECONDS"), out int s) ? s : 0;
        using Machine machine = Create(4 * GiB, checkedMode: true);
        long freeBefore = machine.GetStatistics().FreePages;
        AddressSpace space = machine.CreateAddressSpace();
        PhysAddr pool = machine.AllocatePhysical(1 * GiB);
        var slots = new Slot[Slots];
        for (int i = 0; i < Slots; i++) slots[i] = new Slot();
        RaceCounter[] verified = [new("translator 1 translations", 1000), new("translator 2 translations", 1000)];
        RaceCounter[] faultsVerified = [new("translator 1 faults", 100), new("translator 2 faults", 100)];
        var changes = new RaceCounter("mutator changes", 300);

        void Translator(int seed, CancellationToken stop)
        {
            var random = new Random(seed);
            using MmuContext cpu = space.CreateContext();
            while (!stop.IsCancellationRequested)
            {
                int k = random.Next(Slots);
                Slot slot = slots[k];
                long before = Volatile.Read(ref slot.Version);
                if ((before & 1) != 0) continue;
                bool mapped = slot.Mapped, writable = slot.Writable;
                ulong frame = slot.Frame;
                ulong offset = (ulong)random.Next(512) * Page + (ulong)random.Next(512) * 8;
                VirtAddr va = Base + (ulong)k * 2 * MiB + offset;
                bool write = random.Next(4) == 0;
                bool ok = cpu.TryTranslate(va, write ? AccessKind.Write : AccessKind.Read, out PhysAddr pa);
                // The data access translates again; it may fault only if the slot changed meanwhile.
                bool wrote = !(ok && write) || cpu.TryWrite(va, BitConverter.GetBytes((ulong)seed), out _);
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref slot.Version) != before) continue;
                bool expectOk = mapped && (!write || writable);
                if (ok != expectOk)
                    throw new InvalidOperationException($"slot {k} v{before}: {(write ? "write" : "read")} at {va} gave {(ok ? pa.ToString() : "a fault")}, expected {(expectOk ? "success" : "a fault")}");
                if (!wrote)
                    throw new InvalidOperationException($"slot {k} v{before}: the write at {va} faulted after its translation succeeded");
                if (ok && pa.Value != frame + offset)
                    throw new InvalidOperationException($"slot {k} v{before}: {va} -> {pa}, expected 0x{frame + offset:x}");
                (ok ? verified : faultsVerified)[seed - 1].Add();
            }
        }

        void Mutator(CancellationToken stop)
        {
            var random = new Random(99);
            while (!stop.IsCancellationRequested)
            {
                int k = random.Next(Slots);
                Slot slot = slots[k];
                VirtAddr va = Base + (ulong)k * 2 * MiB;
                Interlocked.Increment(ref slot.Version);
                if (slot.Mapped && random.Next(3) == 0)
                {
                    bool writable = !slot.Writable;
                    space.Protect(va, 2 * MiB, writable ? Protection.ReadWrite : Protection.Read);
                    slot.Writable = writable;
                }
                else if (slot.Mapped)
                {
                    space.Unmap(va, 2 * MiB); // frees the slot's PTE table (and more when neighbours are gone)
                    slot.Mapped = false;
                }
                else
                {
                    ulong frame = pool.Value + (ulong)random.Next(512) * 2 * MiB;
                    bool huge = random.Next(3) == 0;
                    bool writable = random.Next(2) == 0;
                    space.Map(va, P(frame), 2 * MiB, writable ? Protection.ReadWrite : Protection.Read,
                        huge ? PageSize.Size2M : PageSize.Size4K);
                    (slot.Mapped, slot.Frame, slot.Writable, slot.Huge) = (true, frame, writable, huge);
                }
                Interlocked.Increment(ref slot.Version);
                changes.Add();
            }
        }

        Race.Run([.. verified, .. faultsVerified, changes],
            [stop => Translator(1, stop), stop => Translator(2, stop), Mutator], atLeast: TimeSpan.FromSeconds(seconds));

        Assert.Equal(0, machine.GetStatistics().UseAfterFreeDetected);

        space.Dispose();
        machine.FreePhysical(pool, 1 * GiB);
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(freeBefore, after.FreePages);
        Assert.Equal(0, after.UserPageTablesByLevel[1] + after.UserPageTablesByLevel[2] + after.UserPageTablesByLevel[3] + after.UserPageTablesByLevel[4]);
    }
}
