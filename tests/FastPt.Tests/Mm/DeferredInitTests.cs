using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

/// <summary>The deferred representation of boot memory (reserved descriptors written on first use, free max-order
/// blocks kept as ranges) against the eager one (every reserved descriptor written and every free block linked at
/// boot): the same counters, descriptors, allocations and hot-remove results, operation by operation.</summary>
public unsafe class DeferredInitTests
{
    private const ulong Section = 128 * MiB;

    public static TheoryData<string> Machines => new() { "4G+6M", "3G 5-level", "holes", "small holes", "8G no 1G pages", "2G 4K direct map" };

    private static MachineOptions OptionsFor(string name) => name switch
    {
        "4G+6M" => new MachineOptions { MemorySize = 4 * GiB + 6 * MiB, CheckedMode = true },
        "3G 5-level" => new MachineOptions { MemorySize = 3 * GiB, PagingMode = PagingMode.FiveLevel },
        "holes" => new MachineOptions { MemoryMap = [new MemoryRange(P(0), 3 * GiB), new MemoryRange(P(4 * GiB), 2 * GiB + 2 * MiB)] },
        "small holes" => new MachineOptions
        {
            MemoryMap = [new MemoryRange(P(0), 130 * MiB), new MemoryRange(P(132 * MiB), 200 * MiB), new MemoryRange(P(1 * GiB), 2 * GiB)],
            CheckedMode = true,
        },
        "8G no 1G pages" => new MachineOptions { MemorySize = 8 * GiB, GigabytePages = false },
        "2G 4K direct map" => new MachineOptions { MemorySize = 2 * GiB, DirectMapHugePages = false },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>Every counter but the two that measure the representation itself (host bytes written and kernel
    /// descriptor walks), as text, so a difference names the counter.</summary>
    internal static string Counters(Machine machine)
    {
        MemoryStatistics s = machine.GetStatistics();
        var parts = new List<string>();
        foreach (PropertyInfo p in typeof(MemoryStatistics).GetProperties())
        {
            if (p.Name is nameof(MemoryStatistics.HostBytes) or nameof(MemoryStatistics.KernelDescriptorWalks) || p.GetIndexParameters().Length != 0) continue;
            object? value = p.GetValue(s);
            parts.Add(p.Name + "=" + (value is IEnumerable<long> list ? "[" + string.Join(",", list) + "]" : value));
        }
        return string.Join(" ", parts);
    }

    private static (Machine Deferred, Machine Eager) Pair(MachineOptions options) =>
        (new Machine(options, null, deferredInit: true), new Machine(options, null, deferredInit: false));

    /// <summary>Compares the 64 bytes of every present frame's descriptor, read through the vmemmap. The one
    /// difference the representations have: a free max-order block of boot memory that the eager boot linked has
    /// PageBuddy and list links in its head, where the deferred one keeps it as a range and its head reads as
    /// untouched zeros; and a linked max-order block's links skip the deferred ones.</summary>
    private static void AssertSameDescriptors(Machine deferred, Machine eager)
    {
        MemoryManager a = deferred.Memory, b = eager.Memory;
        long deferredHeads = 0;
        for (ulong pfn = 0; pfn < a.Physical.MaxPfn; pfn += SparseMemory.PagesPerSection)
        {
            if (!a.Sparse.PfnValid(pfn))
            {
                Assert.False(b.Sparse.PfnValid(pfn));
                continue;
            }
            for (ulong p = pfn; p < pfn + SparseMemory.PagesPerSection; p++)
            {
                PageDescriptor* dx = a.Memmap.Get(p), dy = b.Memmap.Get(p);
                if ((dy->Flags & PageFlags.Buddy) != 0 && dy->Private == BuddyAllocator.MaxOrder)
                {
                    bool deferredBlock = new ReadOnlySpan<byte>(dx, 64).IndexOfAnyExcept((byte)0) < 0 && a.Buddy.IsFree(p);
                    bool linked = dx->Flags == dy->Flags && dx->Private == dy->Private;
                    Assert.True(deferredBlock || linked, $"free max-order block at pfn 0x{p:x} is neither linked nor deferred");
                    if (deferredBlock) deferredHeads++;
                    continue;
                }
                // Kernel tables name their owner by init_mm's id, which differs between the two machines.
                PageDescriptor cx = *dx, cy = *dy;
                if ((cx.Flags & PageFlags.Table) != 0 && cx.Mapping == a.InitMm.Id) cx.Mapping = 0;
                if ((cy.Flags & PageFlags.Table) != 0 && cy.Mapping == b.InitMm.Id) cy.Mapping = 0;
                var x = new ReadOnlySpan<byte>(&cx, 64);
                var y = new ReadOnlySpan<byte>(&cy, 64);
                if (!x.SequenceEqual(y))
                    Assert.Fail($"descriptor of pfn 0x{p:x} differs: {Convert.ToHexString(x)} vs {Convert.ToHexString(y)}");
            }
        }
        Assert.Equal(a.Buddy.DeferredBlocks, deferredHeads);
    }

    [Theory]
    [MemberData(nameof(Machines))]
    public void Deferred_boot_has_the_counters_and_descriptors_of_the_eager_boot(string name)
    {
        (Machine deferred, Machine eager) = Pair(OptionsFor(name));
        using (deferred)
        using (eager)
        {
            Assert.Equal(Counters(eager), Counters(deferred));
            Assert.True(deferred.Memory.Memmap.DeferredPages > 0);
            Assert.Equal(0, eager.Memory.Memmap.DeferredPages);
            Assert.True(deferred.HostBytes < eager.HostBytes, $"deferred boot wrote {deferred.HostBytes} bytes, eager {eager.HostBytes}");
            // memblock reserved exactly the boot memmap, the boot page tables and the zero page (empty_zero_page).
            MemoryStatistics s = deferred.GetStatistics();
            Assert.Equal(s.PresentPages - s.MemmapBootPages - s.PageTablePages - 1, s.ManagedPages);
            AssertSameDescriptors(deferred, eager);
            Assert.Equal(0, deferred.Memory.Memmap.DeferredPages);
        }
    }

    [Theory]
    [MemberData(nameof(Machines))]
    public void Allocation_free_and_hot_remove_of_boot_memory_match_the_eager_boot_step_by_step(string name)
    {
        (Machine deferred, Machine eager) = Pair(OptionsFor(name));
        using (deferred)
        using (eager)
        {
            var steps = new List<string>();
            void Same(string step)
            {
                steps.Add(step);
                Assert.True(Counters(eager) == Counters(deferred), $"after {string.Join(" > ", steps)}:\n{Counters(eager)}\n{Counters(deferred)}");
            }

            // Allocate until even single frames run out: the deferred max-order blocks go first from the top, as
            // the linked list hands them out.
            var random = new Random(11);
            var blocks = new List<(ulong Pfn, int Order)>();
            for (int order = BuddyAllocator.MaxOrder; order >= 0;)
            {
                int want = random.Next(0, 3) == 0 ? BuddyAllocator.MaxOrder : random.Next(order / 2, order + 1);
                bool a = deferred.Memory.Buddy.TryAllocate(want, zero: false, out ulong pa);
                bool b = eager.Memory.Buddy.TryAllocate(want, zero: false, out ulong pb);
                Assert.Equal(b, a);
                Assert.Equal(pb, pa);
                if (a) blocks.Add((pa, want));
                else if (want <= order) order = want - 1;
            }
            Assert.Equal(0, deferred.GetStatistics().FreePages);
            Same("exhaust");

            random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(blocks));
            foreach ((ulong pfn, int order) in blocks.Take(blocks.Count / 2))
            {
                deferred.Memory.Buddy.Free(pfn, order);
                eager.Memory.Buddy.Free(pfn, order);
            }
            Same("free half");
            foreach ((ulong pfn, int order) in blocks.Skip(blocks.Count / 2))
            {
                deferred.Memory.Buddy.Free(pfn, order);
                eager.Memory.Buddy.Free(pfn, order);
            }
            Same("free all");

            // Hot-remove boot memory: a whole section (its boot memmap block is freed with free_reserved_page), a
            // subsection, a gigabyte (a max-order block), then the section holding the memmap (busy) and back.
            ulong top = MemoryTop(deferred);
            foreach ((ulong start, ulong size) in new[] { (1 * GiB + Section, Section), (2 * GiB + 6 * MiB, 2 * MiB), (2 * GiB, 1 * GiB), (top - Section, Section) })
            {
                HotplugReport? ra = TryRemove(deferred, start, size, out HotplugError? ea);
                HotplugReport? rb = TryRemove(eager, start, size, out HotplugError? eb);
                Assert.Equal(eb, ea);
                Assert.Equal(rb is null ? null : rb with { Elapsed = default }, ra is null ? null : ra with { Elapsed = default });
                Same($"remove {start:x}+{size:x}");
                if (ra is null) continue;
                deferred.AddMemory(P(start), size);
                eager.AddMemory(P(start), size);
                Same($"add {start:x}+{size:x}");
            }
            AssertSameDescriptors(deferred, eager);
            Assert.Contains(steps, s => s.StartsWith("add ", StringComparison.Ordinal));
        }
    }

    private static ulong MemoryTop(Machine machine)
    {
        IReadOnlyList<MemoryRange> map = machine.Options.MemoryMap ?? [new MemoryRange(P(0), machine.Options.MemorySize)];
        return map[^1].End.Value & ~(Section - 1);
    }

    private static HotplugReport? TryRemove(Machine machine, ulong start, ulong size, out HotplugError? error)
    {
        error = null;
        try
        {
            return machine.RemoveMemory(P(start), size);
        }
        catch (HotplugException e)
        {
            error = e.Error;
            return null;
        }
    }

    [Fact]
    public void A_reserved_descriptor_reads_reserved_before_anything_wrote_it_and_only_its_page_is_written()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 4 * GiB });
        Memmap memmap = machine.Memory.Memmap;
        Memblock.Region memmapRegion = machine.Memory.Memblock.Reserved.OrderByDescending(r => r.Size).First();
        ulong pfn = (memmapRegion.Base >> 12) + 1000;
        long pending = memmap.DeferredPages;
        long written = machine.HostBytes;

        PageDescriptor* d = memmap.Get(pfn);
        Assert.Equal(PageFlags.Reserved | PageFlags.BootMemory, d->Flags);
        Assert.Equal(1, d->RefCount);
        Assert.Equal(pending - 1, memmap.DeferredPages);
        Assert.Equal(PageFlags.Reserved | PageFlags.BootMemory, memmap.Get(pfn + 1)->Flags); // same page
        Assert.Equal(pending - 1, memmap.DeferredPages);
        Assert.True(machine.HostBytes - written <= 2 * (long)MiB);

        // A free frame right below the reserved region is untouched and free.
        ulong below = (memmapRegion.Base >> 12) - 1;
        Assert.Equal(0UL, memmap.Get(below)->Flags & PageFlags.Reserved);
        Assert.True(machine.Memory.Buddy.IsFree(below));
    }

    /// <summary>Physical range of the boot memmap (one buffer, present sections in ascending order).</summary>
    private static (ulong Start, ulong End) MemmapBuffer(Machine machine)
    {
        MemoryStatistics s = machine.GetStatistics();
        ulong start = machine.LookupKernel(machine.VmemmapBase)!.Value.Frame.Value;
        return (start, start + (ulong)s.PresentSections * 2 * MiB);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Raw_access_to_memmap_frames_sees_the_reserved_descriptors(bool throughUserMapping)
    {
        (Machine deferred, Machine eager) = Pair(new MachineOptions { MemorySize = 2 * GiB });
        using (deferred)
        using (eager)
        {
            // The last 2 MiB of the buffer hold the descriptors of the top section, where the memmap itself lies.
            (ulong _, ulong end) = MemmapBuffer(deferred);
            Assert.Equal(end, MemmapBuffer(eager).End);
            ulong backing = end - 2 * MiB;
            long pending = deferred.Memory.Memmap.DeferredPages;
            var a = new byte[2 * MiB];
            var b = new byte[2 * MiB];
            if (throughUserMapping)
            {
                using AddressSpace da = deferred.CreateAddressSpace(), ea = eager.CreateAddressSpace();
                da.Map(V(1UL << 30), P(backing), 2 * MiB, Protection.Read);
                ea.Map(V(1UL << 30), P(backing), 2 * MiB, Protection.Read);
                da.Read(V(1UL << 30), a);
                ea.Read(V(1UL << 30), b);
            }
            else
            {
                deferred.ReadPhysical(P(backing), a);
                eager.ReadPhysical(P(backing), b);
            }
            Assert.True(deferred.Memory.Memmap.DeferredPages < pending);
            Assert.Contains(b, x => x != 0);
            // Descriptor by descriptor; kernel tables (at the very top) name their owner by init_mm's id, which
            // differs between the two machines.
            for (int i = 0; i < a.Length; i += 64)
            {
                PageDescriptor x = MemoryMarshal.Read<PageDescriptor>(a.AsSpan(i)), y = MemoryMarshal.Read<PageDescriptor>(b.AsSpan(i));
                if ((x.Flags & PageFlags.Table) != 0) (x.Mapping, y.Mapping) = (0, 0);
                Assert.True(x.Equals(y), $"descriptor at 0x{backing + (ulong)i:x} differs");
            }
        }
    }

    [Fact]
    public void Threads_reaching_deferred_descriptors_together_initialise_each_page_once()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 16 * GiB });
        Memmap memmap = machine.Memory.Memmap;
        (ulong bufferStart, ulong bufferEnd) = MemmapBuffer(machine);
        ulong first = bufferStart >> 12, count = (bufferEnd - bufferStart) >> 12;
        long pending = memmap.DeferredPages;
        const int Threads = 4;
        using var start = new Barrier(Threads);
        // Every thread takes every descriptor of the memmap in the same order, so they meet on each page as it is
        // first reached, and raises the reference count of the frames of its residue class. A page initialised a
        // second time would reset those counts to the one reference of reserved memory.
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t =>
        {
            start.SignalAndWait();
            for (ulong pfn = first; pfn < first + count; pfn++)
            {
                if ((int)(pfn % Threads) == t) memmap.GetMutable(pfn)->RefCount += t + 1;
                else Assert.True((memmap.Get(pfn)->Flags & PageFlags.Reserved) != 0);
            }
        });
        for (ulong pfn = first; pfn < first + count; pfn++)
        {
            PageDescriptor* d = memmap.Get(pfn);
            Assert.Equal((int)(pfn % Threads) + 2, d->RefCount);
            Assert.Equal(PageFlags.Reserved | PageFlags.BootMemory, d->Flags);
        }
        // Each page counted once: the buffer's pages, less the one or two at its ends that boot's buddy checks
        // already reached (a free block's buddy can be the first frame of the memmap).
        long initialised = pending - memmap.DeferredPages;
        Assert.InRange(initialised, (long)(count / 64) - 2, (long)(count / 64));
    }
}
