using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace FastPt.Benchmarks.Faults;

/// <summary>Long-lived threads that run one pass of their work when told to: each writes one byte to every 4 KiB
/// page of its region through a CPU context of its own (contexts are thread-affine), or runs the work the general
/// constructor was given. Starting them once keeps thread creation out of the timings; a pass starts by releasing
/// a semaphore per thread and ends when every thread has signalled (microseconds against a pass of ~30 ms). On Linux
/// worker <c>t</c> is bound to CPU <c>t</c> (modulo the CPUs there are), as will-it-scale binds each task to a core:
/// the scheduler then never runs two workers on one CPU or migrates one in the middle of a pass.</summary>
internal sealed partial class FaultWorkers : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _start;
    private readonly CountdownEvent _done = new(0);
    private volatile bool _stopping;
    private Exception? _failure;

    /// <summary>Threads that fault their regions in: thread <c>t</c> owns [<paramref name="regionBase"/> + t ×
    /// <paramref name="regionSize"/>, +<paramref name="regionSize"/>) and writes one byte every
    /// <paramref name="stride"/> bytes of it.</summary>
    public FaultWorkers(AddressSpace space, int threads, ulong regionBase, ulong regionSize, ulong stride = 4096)
        : this(threads, index =>
        {
            // Created on the worker thread, which it belongs to, and disposed there when the thread stops.
            MmuContext context = space.CreateContext();
            ulong start = regionBase + (ulong)index * regionSize;
            return (() =>
            {
                MmuContext cpu = context;
                ulong end = start + regionSize, step = stride;
                for (ulong a = start; a < end; a += step) cpu.Write(new VirtAddr(a), (byte)1);
            }, context);
        })
    {
    }

    /// <summary>Threads that each run <paramref name="create"/>(its index) once on itself, then the work it
    /// returned once per <see cref="Run"/>, and dispose what it returned with the work when they stop.</summary>
    public FaultWorkers(int threads, Func<int, (Action Work, IDisposable Owned)> create)
    {
        _threads = new Thread[threads];
        _start = new SemaphoreSlim[threads];
        using var ready = new CountdownEvent(threads);
        for (int t = 0; t < threads; t++)
        {
            int index = t;
            _start[t] = new SemaphoreSlim(0);
            _threads[t] = new Thread(() => Work(create, index, ready)) { IsBackground = true, Name = $"fault worker {t}" };
            _threads[t].Start();
        }
        ready.Wait();
    }

    private void Work(Func<int, (Action Work, IDisposable Owned)> create, int index, CountdownEvent ready)
    {
        if (OperatingSystem.IsLinux()) Pin(index);
        (Action work, IDisposable owned) = create(index);
        using IDisposable disposeOnExit = owned;
        ready.Signal();
        while (true)
        {
            _start[index].Wait();
            if (_stopping) return;
            try
            {
                work();
            }
            catch (Exception e)
            {
                _failure = e;
            }
            _done.Signal();
        }
    }

    /// <summary>Lets the first <paramref name="threads"/> workers run one pass and waits for them.</summary>
    public void Run(int threads)
    {
        _done.Reset(threads);
        for (int t = 0; t < threads; t++) _start[t].Release();
        _done.Wait();
        if (_failure is { } failure) throw new InvalidOperationException("a fault worker failed", failure);
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (SemaphoreSlim s in _start) s.Release();
        foreach (Thread t in _threads) t.Join();
        foreach (SemaphoreSlim s in _start) s.Dispose();
        _done.Dispose();
    }

    /// <summary>Binds the calling thread to CPU <paramref name="cpu"/> modulo the CPUs there are (Linux).</summary>
    public static void Pin(int cpu)
    {
        ulong mask = 1UL << (cpu % Math.Min(Environment.ProcessorCount, 64));
        if (SchedSetaffinity(0, sizeof(ulong), ref mask) != 0)
            throw new InvalidOperationException($"sched_setaffinity to CPU {cpu} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetaffinity(int pid, nint size, ref ulong mask);

    /// <summary>Lets the host commit every frame the machine has free: maps them all as one anonymous region at
    /// <paramref name="at"/>, writes a byte to each page on the calling thread, and unmaps it. A pass then never meets
    /// a frame whose host page is still uncommitted (a host page fault and a second zeroing inside the timing,
    /// which otherwise hit now and then a pass that got frames the warm-up never touched).</summary>
    public static void TouchAllFrames(Machine machine, AddressSpace space, ulong at)
    {
        // A margin of frames for the tables of the region itself.
        long pages = machine.GetStatistics().FreePages - 8192;
        if (pages <= 0) return;
        ulong length = (ulong)pages << 12;
        space.MapAnonymous(new VirtAddr(at), length, Protection.ReadWrite);
        using (MmuContext cpu = space.CreateContext())
            for (ulong a = at; a < at + length; a += 4096) cpu.Write(new VirtAddr(a), (byte)1);
        space.Unmap(new VirtAddr(at), length);
    }
}
