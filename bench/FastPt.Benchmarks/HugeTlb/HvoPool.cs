using System;
using System.Linq;
using FastPt.HugeTlb;

namespace FastPt.Benchmarks.HugeTlb;

/// <summary>The setup every HVO benchmark shares: a machine in one design with a pool of frozen folios of one size,
/// and the engine's vmemmap optimizer over them. <see cref="Optimize"/> and <see cref="Restore"/> check that every
/// folio was done, so a benchmark cannot time a step that did nothing.</summary>
internal sealed class HvoPool : IDisposable
{
    private HvoPool(Machine machine, Hstate hstate, Folio[] folios)
    {
        Machine = machine;
        Hstate = hstate;
        Folios = folios;
        Vmemmap = machine.HugeTlb.Core.Vmemmap;
    }

    /// <summary>The machine.</summary>
    public Machine Machine { get; }

    /// <summary>The pool's page size.</summary>
    public Hstate Hstate { get; }

    /// <summary>The pool's folios (free, so frozen), in free-list order.</summary>
    public Folio[] Folios { get; }

    /// <summary>The machine's vmemmap optimizer.</summary>
    public HugetlbVmemmap Vmemmap { get; }

    /// <summary>Boots <paramref name="memoryBytes"/> of RAM in <paramref name="design"/> and fills the pool with
    /// <paramref name="count"/> folios of <paramref name="size"/>, optimized as they are allocated when
    /// <paramref name="optimize"/> is set (<c>vm.hugetlb_optimize_vmemmap</c> at boot).</summary>
    public static HvoPool Boot(ulong memoryBytes, HvoDesign design, PageSize size, int count, bool optimize = false)
    {
        var machine = new Machine(new MachineOptions { MemorySize = memoryBytes, HugeTlbVmemmapDesign = design, HugeTlbOptimizeVmemmap = optimize, AdviseHostHugePages = HostHugePages });
        try
        {
            machine.HugeTlb.SetPoolSize(size, count);
            Hstate hstate = machine.HugeTlb.Core.For(size);
            Folio[] folios = hstate.FreeList.Select(pfn => new Folio(pfn, hstate.Order)).ToArray();
            if (folios.Length != count) throw new InvalidOperationException($"the pool holds {folios.Length} folios, not {count}");
            return new HvoPool(machine, hstate, folios);
        }
        catch
        {
            machine.Dispose();
            throw;
        }
    }

    /// <summary><c>FASTPT_HVO_HOST_HUGEPAGES=1</c>: the machines ask the host for transparent huge pages behind simulated
    /// memory (<see cref="MachineOptions.AdviseHostHugePages"/>), for an A/B of what host TLB misses cost the copies and
    /// descriptor accesses (the host's THP setting here is <c>madvise</c>, so without it every simulated frame is a
    /// host 4 KiB page). Off by default: the figures of record run without it.</summary>
    public static bool HostHugePages => Environment.GetEnvironmentVariable("FASTPT_HVO_HOST_HUGEPAGES") == "1";

    /// <summary>Vmemmap pages an optimization frees per folio (7 for 2 MiB, 4095 for 1 GiB).</summary>
    public long PagesPerFolio => HugetlbVmemmap.VmemmapPages(Hstate.Order) - 1;

    /// <summary>Optimizes every folio of the pool, batched or one at a time; with <paramref name="allowNone"/>, a
    /// pool that is optimized already is accepted (0 done).</summary>
    public int Optimize(bool batched, bool allowNone = false) =>
        Expect(Vmemmap.Optimize(Folios, batched, Hstate.Counters), "optimize", allowNone);

    /// <summary>Restores every folio of the pool, batched or one at a time (an unoptimized folio counts as done).</summary>
    public int Restore(bool batched) => Expect(Vmemmap.Restore(Folios, batched, Hstate.Counters), "restore", allowNone: false);

    /// <summary>One optimize and one restore, checked against the kernel's page counts.</summary>
    public void CheckPageCounts()
    {
        long freed = Hstate.Counters.PagesFreed, restored = Hstate.Counters.PagesRestored;
        Optimize(batched: true);
        if (Hstate.Counters.PagesFreed - freed != PagesPerFolio * Folios.Length)
            throw new InvalidOperationException($"optimize freed {Hstate.Counters.PagesFreed - freed} pages, not {PagesPerFolio * Folios.Length}");
        Restore(batched: true);
        if (Hstate.Counters.PagesRestored - restored != PagesPerFolio * Folios.Length)
            throw new InvalidOperationException($"restore allocated {Hstate.Counters.PagesRestored - restored} pages, not {PagesPerFolio * Folios.Length}");
    }

    /// <summary>Optimizes and restores the pool <paramref name="rounds"/> times, batched and one folio at a time in
    /// turn, and leaves it restored. An iteration of the per-folio suites is one call, so without this the few calls
    /// BenchmarkDotNet makes would time code the JIT has not optimised yet (a method is recompiled after 30 calls):
    /// 9 µs per batched 2 MiB folio instead of under 2.</summary>
    public void WarmUp(int rounds = 64)
    {
        for (int i = 0; i < rounds; i++)
        {
            Optimize(batched: i % 2 == 0);
            Restore(batched: i % 2 == 0);
        }
    }

    private int Expect(int done, string what, bool allowNone)
    {
        if (done != Folios.Length && !(allowNone && done == 0))
            throw new InvalidOperationException($"{what} did {done} of {Folios.Length} folios");
        return done;
    }

    /// <summary>Frees the machine.</summary>
    public void Dispose() => Machine.Dispose();
}
