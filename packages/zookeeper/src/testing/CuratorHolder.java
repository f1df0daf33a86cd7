// A Java service using Apache Curator's InterProcessMutex, driven over stdin/stdout by
// the interop.curator scenarios (curator.ts). One command per line:
//   try            acquire without waiting: "acquired <czxid>" or "busy"
//   acquire        acquire, waiting:        "acquired <czxid>"
//   release        release:                 "released"
//   loop N HOLD    N times: acquire, enter the critical section for HOLD ms, leave, release;
//                  then "looped <violations> <entries right after another holder>"
//   exit           close the client and exit
// The critical section is shared with the Node side through two files: MARKER exists while
// someone is inside (creating it when it already exists is a violation), TOKENS holds the last
// holder's fencing token (czxid), which must only ever increase.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class CuratorHolder {
  /** Exposes the path of the node this mutex holds (protected in Curator). */
  static final class Mutex extends InterProcessMutex {
    Mutex(CuratorFramework client, String path) {
      super(client, path);
    }

    String node() {
      return getLockPath();
    }
  }

  static int violations = 0;
  static int handoffs = 0;
  static final java.util.Set<Long> mine = new java.util.HashSet<>();

  public static void main(String[] args) throws Exception {
    String connect = args[0];
    String lockPath = args[1];
    Path marker = Paths.get(args[2]);
    Path tokens = Paths.get(args[3]);
    CuratorFramework client =
        CuratorFrameworkFactory.newClient(connect, 15_000, 10_000, new ExponentialBackoffRetry(100, 5));
    client.start();
    client.blockUntilConnected();
    Mutex mutex = new Mutex(client, lockPath);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    say("ready");
    String line;
    while ((line = in.readLine()) != null) {
      String[] cmd = line.trim().split(" ");
      switch (cmd[0]) {
        case "try":
          say(mutex.acquire(0, TimeUnit.MILLISECONDS) ? "acquired " + czxid(client, mutex) : "busy");
          break;
        case "acquire":
          mutex.acquire();
          say("acquired " + czxid(client, mutex));
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
            enter(marker, tokens, czxid(client, mutex));
            Thread.sleep(holdMs);
            Files.deleteIfExists(marker);
            mutex.release();
          }
          say("looped " + violations + " " + handoffs);
          break;
        case "exit":
          client.close();
          say("bye");
          return;
        default:
          say("unknown " + cmd[0]);
      }
    }
    client.close();
  }

  static long czxid(CuratorFramework client, Mutex mutex) throws Exception {
    return client.checkExists().forPath(mutex.node()).getCzxid();
  }

  static void enter(Path marker, Path tokens, long token) throws Exception {
    try {
      Files.createFile(marker);
    } catch (FileAlreadyExistsException e) {
      violations++;
      System.err.println("violation: entered while the marker existed");
    }
    if (Files.exists(tokens)) {
      long last = Long.parseLong(new String(Files.readAllBytes(tokens), StandardCharsets.UTF_8).trim());
      if (token <= last) {
        violations++;
        System.err.println("violation: token " + token + " after " + last);
      }
      if (!mine.contains(last)) handoffs++;
    }
    mine.add(token);
    Files.write(tokens, Long.toString(token).getBytes(StandardCharsets.UTF_8));
  }

  static void say(String line) {
    System.out.println(line);
    System.out.flush();
  }
}
