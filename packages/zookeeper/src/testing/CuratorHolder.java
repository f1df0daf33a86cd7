// A Java service using one of Apache Curator's recipes, driven over stdin/stdout by the
// interop.curator scenarios (curator.ts). Arguments: CONNECT RECIPE PATH [ARGS...]; then one
// command per line, "exit" ending it. Every "acquired" answer carries the czxid of the node the
// grant rests on (the fencing token both sides compare).
//
//   mutex PATH MARKER TOKENS     InterProcessMutex
//     try | acquire | release    "acquired <czxid>" / "busy" / "released"
//     loop N HOLD                N times: acquire, enter the critical section for HOLD ms, leave,
//                                release; then "looped <violations> <entries right after another holder>"
//     The critical section is shared with the Node side through two files: MARKER exists while
//     someone is inside (creating it when it already exists is a violation), TOKENS holds the
//     last holder's czxid, which must only ever increase.
//
//   semaphore PATH MAX [DATA]    InterProcessSemaphoreV2 with maxLeases MAX (DATA: setNodeData)
//     try | acquire | release    "acquired <czxid>" / "busy" / "released" (the oldest lease held)
//     loop N HOLD DIR            N times: acquire, put a file in DIR while holding (more than
//                                MAX files there is a violation), release;
//                                then "looped <violations> <czxid,czxid,...>"
//
//   rwlock PATH                  InterProcessReadWriteLock
//     try-read | try-write | read | write | release-read | release-write
//     loop N HOLD DIR            N times a write (every third) or a read; a writer holds file
//                                DIR/W (none may exist, and no reader's), a reader DIR/R-<czxid>
//                                (no DIR/W may exist); then "looped <violations> <writes> <reads>"
//
//   latch PATH ID                LeaderLatch with id ID
//     start | await | has | leader | close
//                                "started" / "leader <czxid>" / "leader"|"follower" /
//                                "leader-is <id>"|"leader-is none" / "closed"
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class CuratorHolder {
  /** One recipe's commands. */
  interface Recipe {
    void handle(String[] cmd) throws Exception;
  }

  static CuratorFramework client;
  static int violations = 0;

  public static void main(String[] args) throws Exception {
    client = CuratorFrameworkFactory.newClient(args[0], 15_000, 10_000, new ExponentialBackoffRetry(100, 5));
    client.start();
    client.blockUntilConnected();
    String path = args[2];
    Recipe recipe;
    switch (args[1]) {
      case "mutex":
        recipe = new MutexRecipe(path, Paths.get(args[3]), Paths.get(args[4]));
        break;
      case "semaphore":
        recipe = new SemaphoreRecipe(path, Integer.parseInt(args[3]), args.length > 4 ? args[4] : null);
        break;
      case "rwlock":
        recipe = new ReadWriteRecipe(path);
        break;
      case "latch":
        recipe = new LatchRecipe(path, args[3]);
        break;
      default:
        throw new IllegalArgumentException("unknown recipe " + args[1]);
    }
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    say("ready");
    String line;
    while ((line = in.readLine()) != null) {
      String[] cmd = line.trim().split(" ");
      if (cmd[0].equals("exit")) break;
      recipe.handle(cmd);
    }
    client.close();
    say("bye");
  }

  static long czxid(String path) throws Exception {
    return client.checkExists().forPath(path).getCzxid();
  }

  static void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  static void violation(String what) {
    violations++;
    System.err.println("violation: " + what);
  }

  static int countFiles(Path dir, String glob) throws Exception {
    int n = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, glob)) {
      for (Path ignored : files) n++;
    }
    return n;
  }

  static final class MutexRecipe implements Recipe {
    /** Exposes the path of the node this mutex holds (protected in Curator). */
    static final class Mutex extends InterProcessMutex {
      Mutex(CuratorFramework client, String path) {
        super(client, path);
      }

      String node() {
        return getLockPath();
      }
    }

    final Mutex mutex;
    final Path marker;
    final Path tokens;
    int handoffs = 0;
    final Set<Long> mine = new HashSet<>();

    MutexRecipe(String path, Path marker, Path tokens) {
      this.mutex = new Mutex(client, path);
      this.marker = marker;
      this.tokens = tokens;
    }

    public void handle(String[] cmd) throws Exception {
      switch (cmd[0]) {
        case "try":
          say(mutex.acquire(0, TimeUnit.MILLISECONDS) ? "acquired " + czxid(mutex.node()) : "busy");
          break;
        case "acquire":
          mutex.acquire();
          say("acquired " + czxid(mutex.node()));
          break;
        case "release":
          mutex.release();
          say("released");
          break;
        case "loop":
          int n = Integer.parseInt(cmd[1]);
          long holdMs = Long.parseLong(cmd[2]);
          for (int i = 0; i < n; i++) {
            mutex.acquire();
            enter(czxid(mutex.node()));
            Thread.sleep(holdMs);
            Files.deleteIfExists(marker);
            mutex.release();
          }
          say("looped " + violations + " " + handoffs);
          break;
        default:
          say("unknown " + cmd[0]);
      }
    }

    void enter(long token) throws Exception {
      try {
        Files.createFile(marker);
      } catch (FileAlreadyExistsException e) {
        violation("entered while the marker existed");
      }
      if (Files.exists(tokens)) {
        long last = Long.parseLong(new String(Files.readAllBytes(tokens), StandardCharsets.UTF_8).trim());
        if (token <= last) violation("token " + token + " after " + last);
        if (!mine.contains(last)) handoffs++;
      }
      mine.add(token);
      Files.write(tokens, Long.toString(token).getBytes(StandardCharsets.UTF_8));
    }
  }

  static final class SemaphoreRecipe implements Recipe {
    final InterProcessSemaphoreV2 semaphore;
    final String leases;
    final int max;
    final Deque<Lease> held = new ArrayDeque<>();

    SemaphoreRecipe(String path, int max, String data) {
      this.semaphore = new InterProcessSemaphoreV2(client, path, max);
      if (data != null) semaphore.setNodeData(data.getBytes(StandardCharsets.UTF_8));
      this.leases = path + "/leases/";
      this.max = max;
    }

    long token(Lease lease) throws Exception {
      return czxid(leases + lease.getNodeName());
    }

    public void handle(String[] cmd) throws Exception {
      switch (cmd[0]) {
        case "try": {
          Lease lease = semaphore.acquire(0, TimeUnit.MILLISECONDS);
          if (lease == null) {
            say("busy");
            break;
          }
          held.add(lease);
          say("acquired " + token(lease));
          break;
        }
        case "acquire": {
          Lease lease = semaphore.acquire();
          held.add(lease);
          say("acquired " + token(lease));
          break;
        }
        case "release":
          semaphore.returnLease(held.poll());
          say("released");
          break;
        case "loop": {
          int n = Integer.parseInt(cmd[1]);
          long holdMs = Long.parseLong(cmd[2]);
          Path dir = Paths.get(cmd[3]);
          List<String> tokens = new ArrayList<>();
          for (int i = 0; i < n; i++) {
            Lease lease = semaphore.acquire();
            long token = token(lease);
            tokens.add(Long.toString(token));
            Path inside = dir.resolve("curator-" + token);
            Files.createFile(inside);
            int holders = countFiles(dir, "*");
            if (holders > max) violation(holders + " holders of " + max + " permits");
            Thread.sleep(holdMs);
            Files.delete(inside);
            semaphore.returnLease(lease);
          }
          say("looped " + violations + " " + String.join(",", tokens));
          break;
        }
        default:
          say("unknown " + cmd[0]);
      }
    }
  }

  static final class ReadWriteRecipe implements Recipe {
    /** The two sides, exposing the paths of the nodes they hold (protected in Curator). */
    static final class Read extends InterProcessReadWriteLock.ReadLock {
      Read(CuratorFramework client, String path, InterProcessReadWriteLock.WriteLock write) {
        super(client, path, null, write);
      }

      String node() {
        return getLockPath();
      }
    }

    static final class Write extends InterProcessReadWriteLock.WriteLock {
      Write(CuratorFramework client, String path) {
        super(client, path, null);
      }

      String node() {
        return getLockPath();
      }
    }

    final Write write;
    final Read read;

    ReadWriteRecipe(String path) {
      this.write = new Write(client, path);
      this.read = new Read(client, path, write);
    }

    public void handle(String[] cmd) throws Exception {
      switch (cmd[0]) {
        case "try-read":
          say(read.acquire(0, TimeUnit.MILLISECONDS) ? "acquired " + czxid(read.node()) : "busy");
          break;
        case "try-write":
          say(write.acquire(0, TimeUnit.MILLISECONDS) ? "acquired " + czxid(write.node()) : "busy");
          break;
        case "read":
          read.acquire();
          say("acquired " + czxid(read.node()));
          break;
        case "write":
          write.acquire();
          say("acquired " + czxid(write.node()));
          break;
        case "release-read":
          read.release();
          say("released");
          break;
        case "release-write":
          write.release();
          say("released");
          break;
        case "loop": {
          int n = Integer.parseInt(cmd[1]);
          long holdMs = Long.parseLong(cmd[2]);
          Path dir = Paths.get(cmd[3]);
          int writes = 0;
          int reads = 0;
          for (int i = 0; i < n; i++) {
            if (i % 3 == 0) {
              write.acquire();
              writes++;
              Path inside = dir.resolve("W");
              try {
                Files.createFile(inside);
              } catch (FileAlreadyExistsException e) {
                violation("a writer entered while another wrote");
              }
              if (countFiles(dir, "R-*") > 0) violation("a writer entered while someone read");
              Thread.sleep(holdMs);
              Files.deleteIfExists(inside);
              write.release();
            } else {
              read.acquire();
              reads++;
              Path inside = dir.resolve("R-java-" + czxid(read.node()));
              Files.createFile(inside);
              if (Files.exists(dir.resolve("W"))) violation("a reader entered while someone wrote");
              Thread.sleep(holdMs);
              Files.delete(inside);
              read.release();
            }
          }
          say("looped " + violations + " " + writes + " " + reads);
          break;
        }
        default:
          say("unknown " + cmd[0]);
      }
    }
  }

  static final class LatchRecipe implements Recipe {
    final String path;
    final String id;
    LeaderLatch latch;

    LatchRecipe(String path, String id) {
      this.path = path;
      this.id = id;
    }

    public void handle(String[] cmd) throws Exception {
      switch (cmd[0]) {
        case "start":
          latch = new LeaderLatch(client, path, id);
          latch.start();
          say("started");
          break;
        case "await":
          latch.await();
          say("leader " + czxid(latch.getOurPath()));
          break;
        case "has":
          say(latch.hasLeadership() ? "leader" : "follower");
          break;
        case "leader": {
          Participant leader = latch.getLeader();
          say(leader.isLeader() ? "leader-is " + leader.getId() : "leader-is none");
          break;
        }
        case "close":
          latch.close();
          say("closed");
          break;
        default:
          say("unknown " + cmd[0]);
      }
    }
  }
}
