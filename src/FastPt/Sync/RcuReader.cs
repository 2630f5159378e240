using System;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace FastPt.Sync;

/// <summary>A registered RCU reader: one thread's read-side state in one <see cref="RcuDomain"/> (a CPU context
/// holds one; threads without a context get one from <see cref="RcuDomain.ReadLock"/>). Thread-affine: only its
/// owner enters and leaves sections; the domain only reads the announced epoch.</summary>
internal sealed class RcuReader : IDisposable
{
    private const int Active = 0, Disposed = 1, Abandoned = 2;

    // The announced epoch alone on its cache line (see ReaderLine); everything else is owner-only or cold.
    private ReaderLine _line;
    private readonly RcuDomain _domain;
    private Thread? _owner;
    private int _state;

    internal RcuReader(RcuDomain domain, bool implicitForThread)
    {
        _domain = domain;
        IsImplicit = implicitForThread;
        if (implicitForThread) Bind(Thread.CurrentThread);
    }

    /// <summary>Index in the domain's reader table (set under its registration lock).</summary>
    internal int Slot { get; set; } = -1;

    /// <summary>True for the per-thread reader <see cref="RcuDomain.ReadLock"/> creates.</summary>
    internal bool IsImplicit { get; }

    /// <summary>The domain this reader is registered with.</summary>
    public RcuDomain Domain => _domain;

    /// <summary>Section depth (owner thread only; others see a racy value).</summary>
    public int Nesting => _line.Nesting;

    /// <summary>True while the owner is inside a read-side section.</summary>
    public bool InSection => _line.Nesting > 0;

    /// <summary>Managed id of the owner thread (0 before the first section).</summary>
    internal int OwnerThreadId => _line.OwnerThreadId;

    /// <summary>The epoch announced by the owner, 0 when quiescent. Read by the domain's grace-period scan.</summary>
    internal long AnnouncedEpoch => Volatile.Read(ref _line.Epoch);

    internal bool IsDisposed => Volatile.Read(ref _state) != Active;

    /// <summary>Enters a read-side section (<c>rcu_read_lock</c>). Sections nest; only the outermost announces.
    /// Allocation-free: a field increment, and on the outermost entry one locked exchange and one load.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Enter()
    {
        if (_line.Nesting++ == 0) _domain.Announce(this, ref _line.Epoch);
    }

    /// <summary>Leaves a read-side section (<c>rcu_read_unlock</c>). Leaving a section never entered throws.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Exit()
    {
        int nesting = _line.Nesting - 1;
        if (nesting < 0) ThrowExitWithoutEnter();
        _line.Nesting = nesting;
        // Release store: every load of the section is ordered before the scan can see this reader quiescent
        // (x86 never reorders a store with earlier loads; Volatile.Write is a release on every platform).
        if (nesting == 0) Volatile.Write(ref _line.Epoch, 0);
    }

    /// <summary>A section for a <c>using</c> statement.</summary>
    public Section Read()
    {
        Enter();
        return new Section(this);
    }

    /// <summary>Called by the domain on the outermost entry, before announcing: a disposed reader cannot enter,
    /// and the first entry binds the owner thread (used to detect a thread that exits inside a section).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void CheckUsable()
    {
        if (_owner is null || _state != Active) CheckUsableSlow();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CheckUsableSlow()
    {
        if (Volatile.Read(ref _state) != Active)
        {
            _line.Nesting = 0;
            throw new ObjectDisposedException(nameof(RcuReader), "An RCU reader was used after it was disposed.");
        }
        Bind(Thread.CurrentThread);
    }

    private void Bind(Thread thread)
    {
        _line.OwnerThreadId = thread.ManagedThreadId;
        Volatile.Write(ref _owner, thread);
    }

    /// <summary>True when the owner thread has exited (a dead thread is quiescent forever).</summary>
    internal bool OwnerExited
    {
        get
        {
            Thread? owner = Volatile.Read(ref _owner);
            return owner is not null && !owner.IsAlive;
        }
    }

    /// <summary>Marks the reader as given up while inside a section (its thread exited, or it was disposed) and
    /// clears its announcement, so that grace periods stop waiting for it. Returns false if already done.</summary>
    internal bool TryAbandon(out int nesting)
    {
        nesting = _line.Nesting;
        if (Interlocked.CompareExchange(ref _state, Abandoned, Active) != Active) return false;
        Volatile.Write(ref _line.Epoch, 0);
        return true;
    }

    /// <summary>Unregisters the reader. Disposing inside a section is reported to the domain's observer (the
    /// section ends here: grace periods stop waiting for it). Idempotent.</summary>
    public void Dispose()
    {
        int state = Volatile.Read(ref _state);
        if (state == Disposed) return;
        if (state == Active && Volatile.Read(ref _line.Epoch) != 0)
            _domain.ReportAbandoned(this, RcuAbandonment.DisposedInSection);
        Volatile.Write(ref _state, Disposed);
        Volatile.Write(ref _line.Epoch, 0);
        _domain.Unregister(this);
    }

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowExitWithoutEnter()
    {
        if (Volatile.Read(ref _state) != Active)
            throw new ObjectDisposedException(nameof(RcuReader), "An RCU reader left a section after it was disposed.");
        throw new InvalidOperationException("rcu_read_unlock without rcu_read_lock: this thread left an RCU read-side section it never entered.");
    }

    /// <summary>A read-side section; dispose to leave it.</summary>
    public readonly ref struct Section
    {
        private readonly RcuReader _reader;

        internal Section(RcuReader reader) => _reader = reader;

        /// <summary>Leaves the section.</summary>
        public void Dispose() => _reader.Exit();
    }

    /// <summary>The reader's hot state. <see cref="Epoch"/> sits at offset 56 of 128 bytes: whatever 8-byte
    /// aligned address the object lands on, the cache line holding it lies inside this struct, so two readers
    /// never share the line the scan reads and the owner writes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct ReaderLine
    {
        [FieldOffset(56)] public long Epoch;
        [FieldOffset(64)] public int Nesting;
        [FieldOffset(68)] public int OwnerThreadId;
    }
}

/// <summary>Why a reader stopped holding up grace periods without leaving its section.</summary>
internal enum RcuAbandonment
{
    /// <summary>The owner thread exited inside a section.</summary>
    ThreadExited = 1,

    /// <summary>The reader (or the CPU context holding it) was disposed inside a section.</summary>
    DisposedInSection = 2,
}
