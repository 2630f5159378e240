using System.Runtime.InteropServices;

namespace FastPt.Cli.KernelCheck;

/// <summary>The few Linux memory system calls kernel-check needs, through libc. x86-64 Linux values; callers check
/// the host first (<see cref="HostSupport"/>).</summary>
internal static partial class LinuxMemory
{
    public const int ProtRead = 0x1;
    public const int MapPrivate = 0x02;
    public const int MapAnonymous = 0x20;
    public const int MapNoReserve = 0x4000;
    public const int MadviseNoHugePage = 15;

    /// <summary>EINVAL: what madvise(MADV_NOHUGEPAGE) returns on a kernel built without transparent huge pages.</summary>
    public const int ErrorInvalid = 22;

    private static readonly nint MapFailed = -1;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);

    /// <summary>Maps <paramref name="length"/> bytes of private anonymous memory, readable only and without swap
    /// reservation (a read-only private mapping is not charged to the commit limit either). Returns the address, or
    /// 0 with the errno in <paramref name="errno"/>.</summary>
    public static nint MapAnonymousReadOnly(ulong length, out int errno)
    {
        nint address = Mmap(0, (nuint)length, ProtRead, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
        errno = address == MapFailed ? Marshal.GetLastPInvokeError() : 0;
        return address == MapFailed ? 0 : address;
    }

    /// <summary>Unmaps a range; returns the errno, 0 on success.</summary>
    public static int Unmap(nint address, ulong length) =>
        Munmap(address, (nuint)length) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>madvise(MADV_NOHUGEPAGE): keeps transparent huge pages (and the PTE tables the kernel deposits with
    /// them) out of the range. Returns the errno, 0 on success.</summary>
    public static int NoHugePages(nint address, ulong length) =>
        Madvise(address, (nuint)length, MadviseNoHugePage) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>The C library's text for <paramref name="errno"/>, with the number.</summary>
    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
