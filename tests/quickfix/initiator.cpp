// A real QuickFIX initiator (Debian's libquickfix-dev) trading against the gateway, with
// QuickFIX's data-dictionary validation on: tests/quickfix_initiator.rs builds and runs it.
//
// Usage: initiator HOST PORT WORKDIR DICTIONARY
//
// Two sessions, ALICE and BOB, log on with Username/Password; ALICE subscribes to market data,
// places, replaces, queries, cancels and mass-cancels orders that BOB fills; then ALICE logs out,
// forgets the messages it received since its first fill (as if a disconnect had lost them),
// logs on again continuing its sequence numbers, and must get the lost fill back through FIX's
// resend. Any Reject or BusinessMessageReject QuickFIX sends (a message of ours it refused) fails
// the run. Prints one line per step; exits 0 when every step held.

#include <quickfix/Application.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/Group.h>
#include <quickfix/Message.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

namespace {

struct Received {
  std::string session;  // the SenderCompID of our side: ALICE or BOB
  std::string text;     // the message, fields separated by '|'
  FIX::Message message;
};

class Trader : public FIX::Application {
 public:
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Received> inbox;
  std::string refused;  // set when QuickFIX rejects a message of ours
  int logons = 0;
  int logouts = 0;

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID&) override {
    std::lock_guard<std::mutex> lock(mutex);
    ++logons;
    changed.notify_all();
  }
  void onLogout(const FIX::SessionID&) override {
    std::lock_guard<std::mutex> lock(mutex);
    ++logouts;
    changed.notify_all();
  }
  void toAdmin(FIX::Message& message, const FIX::SessionID& id) override {
    const std::string type = message.getHeader().getField(35);
    if (type == "A") {
      const std::string who = id.getSenderCompID().getValue();
      message.setField(553, who == "ALICE" ? "alice" : "bob");
      message.setField(554, "change-me");
    }
    if (type == "3") note_refusal("Reject", message);
  }
  void toApp(FIX::Message& message, const FIX::SessionID&) throw(FIX::DoNotSend) override {
    if (message.getHeader().getField(35) == "j") note_refusal("BusinessMessageReject", message);
  }
  void fromAdmin(const FIX::Message&, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
             FIX::RejectLogon) override {}
  void fromApp(const FIX::Message& message, const FIX::SessionID& id)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
             FIX::UnsupportedMessageType) override {
    std::string text = message.toString();
    for (char& c : text)
      if (c == '\x01') c = '|';
    std::lock_guard<std::mutex> lock(mutex);
    inbox.push_back(Received{id.getSenderCompID().getValue(), text, message});
    changed.notify_all();
  }

 private:
  void note_refusal(const char* what, const FIX::Message& message) {
    std::string text = message.toString();
    for (char& c : text)
      if (c == '\x01') c = '|';
    std::lock_guard<std::mutex> lock(mutex);
    if (refused.empty()) refused = std::string(what) + " sent by QuickFIX: " + text;
    changed.notify_all();
  }
};

[[noreturn]] void fail(const std::string& why) {
  std::cout << "FAIL " << why << std::endl;
  std::exit(1);
}

std::string field(const FIX::Message& m, int tag) {
  if (m.getHeader().isSetField(tag)) return m.getHeader().getField(tag);
  if (m.isSetField(tag)) return m.getField(tag);
  return "";
}

class Run {
 public:
  Run(Trader& trader, FIX::SessionID alice, FIX::SessionID bob)
      : t(trader), alice(alice), bob(bob) {}

  // Waits until `done` holds (checked under the lock), failing after ten seconds or as soon as
  // QuickFIX refused something.
  void wait_for(const std::string& what, const std::function<bool()>& done) {
    std::unique_lock<std::mutex> lock(t.mutex);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (!t.refused.empty()) fail(t.refused);
      if (t.changed.wait_until(lock, deadline) == std::cv_status::timeout && !done())
        fail("timed out waiting for " + what);
    }
    if (!t.refused.empty()) fail(t.refused);
    std::cout << "ok   " << what << std::endl;
  }

  // The next application message for `who` of type `type` (others before it are dropped),
  // matching `want` (tag, value) pairs.
  FIX::Message expect(const std::string& who, const std::string& type,
                      std::initializer_list<std::pair<int, std::string>> want,
                      const std::string& what) {
    FIX::Message found;
    wait_for(what, [&] {
      // The first message of that session and type; that session's messages of other types
      // before it are skipped, the other session's are kept for their own expectations.
      for (auto it = t.inbox.begin(); it != t.inbox.end();) {
        if (it->session != who) {
          ++it;
          continue;
        }
        if (field(it->message, 35) != type) {
          it = t.inbox.erase(it);
          continue;
        }
        Received r = *it;
        t.inbox.erase(it);
        bool all = true;
        for (const auto& want_field : want)
          if (field(r.message, want_field.first) != want_field.second) all = false;
        if (!all) fail(what + ": got " + r.text);
        found = r.message;
        return true;
      }
      return false;
    });
    return found;
  }

  void send(const FIX::SessionID& id, const std::string& type,
            std::initializer_list<std::pair<int, std::string>> fields) {
    FIX::Message m;
    m.getHeader().setField(35, type);
    for (const auto& f : fields) m.setField(f.first, f.second);
    FIX::Session::sendToTarget(m, id);
  }

  void order(const FIX::SessionID& id, const std::string& clordid, const std::string& side,
             const std::string& qty, const std::string& price) {
    send(id, "D", {{11, clordid}, {55, "BTC-JPY"}, {54, side}, {60, now()}, {38, qty},
                   {40, "2"}, {44, price}});
  }

  static std::string now() {
    return FIX::UtcTimeStampConvertor::convert(FIX::UtcTimeStamp(), 3);
  }

  Trader& t;
  FIX::SessionID alice, bob;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) fail("usage: initiator HOST PORT WORKDIR DICTIONARY");
  const std::string host = argv[1], port = argv[2], dir = argv[3], dictionary = argv[4];
  std::stringstream config;
  config << "[DEFAULT]\nConnectionType=initiator\nSocketConnectHost=" << host
         << "\nSocketConnectPort=" << port << "\nHeartBtInt=30\nReconnectInterval=1\n"
         << "FileStorePath=" << dir << "/store\nFileLogPath=" << dir << "/log\n"
         << "StartTime=00:00:00\nEndTime=00:00:00\nUseDataDictionary=Y\nDataDictionary="
         << dictionary << "\nValidateUserDefinedFields=Y\n"
         << "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=ALICE\nTargetCompID=HAYATE\n"
         << "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=BOB\nTargetCompID=HAYATE\n";
  FIX::SessionSettings settings(config);
  Trader trader;
  FIX::FileStoreFactory store(settings);
  FIX::FileLogFactory log(settings);
  FIX::SocketInitiator initiator(trader, store, settings, log);
  const FIX::SessionID alice("FIX.4.4", "ALICE", "HAYATE"), bob("FIX.4.4", "BOB", "HAYATE");
  Run run(trader, alice, bob);
  initiator.start();
  run.wait_for("both sessions logged on with Username/Password", [&] { return trader.logons == 2; });

  // Market data: a snapshot, then incremental refreshes as the orders below trade.
  {
    FIX::Message v;
    v.getHeader().setField(35, "V");
    v.setField(262, "md-1");
    v.setField(263, "1");
    v.setField(264, "0");
    v.setField(265, "1");
    for (const char* type : {"0", "1", "2"}) {
      FIX::Group g(267, 269);
      g.setField(269, type);
      v.addGroup(g);
    }
    FIX::Group sym(146, 55);
    sym.setField(55, "BTC-JPY");
    v.addGroup(sym);
    FIX::Session::sendToTarget(v, alice);
  }
  run.expect("ALICE", "W", {{262, "md-1"}, {55, "BTC-JPY"}}, "a market-data snapshot (W)");

  run.order(alice, "a1", "1", "1", "5000000");
  run.expect("ALICE", "8", {{11, "a1"}, {150, "0"}, {39, "0"}}, "ALICE's order acknowledged");
  run.order(bob, "b1", "2", "0.4", "5000000");
  run.expect("BOB", "8", {{11, "b1"}, {150, "0"}}, "BOB's order acknowledged");
  run.expect("BOB", "8", {{11, "b1"}, {150, "F"}, {39, "2"}}, "BOB's order filled");
  FIX::Message fill =
      run.expect("ALICE", "8", {{11, "a1"}, {150, "F"}, {39, "1"}, {32, "0.4"}}, "ALICE's fill");
  const std::string fill_seq = field(fill, 34), trade_id = field(fill, 527);
  if (trade_id.empty()) fail("a fill without its trade id (SecondaryExecID 527)");
  run.expect("ALICE", "X", {{262, "md-1"}}, "an incremental refresh (X) with the trade");

  run.send(alice, "G", {{41, "a1"}, {11, "a2"}, {55, "BTC-JPY"}, {54, "1"}, {60, Run::now()},
                        {38, "2"}, {40, "2"}, {44, "4990000"}});
  run.expect("ALICE", "8", {{11, "a2"}, {41, "a1"}, {150, "5"}}, "replaced");
  run.send(alice, "H", {{11, "a2"}, {55, "BTC-JPY"}, {54, "1"}});
  run.expect("ALICE", "8", {{11, "a2"}, {150, "I"}}, "order status");
  run.send(alice, "F", {{41, "a2"}, {11, "c1"}, {55, "BTC-JPY"}, {54, "1"}, {60, Run::now()}});
  run.expect("ALICE", "8", {{11, "c1"}, {150, "4"}}, "canceled");
  run.send(alice, "F", {{41, "a2"}, {11, "c2"}, {55, "BTC-JPY"}, {54, "1"}, {60, Run::now()}});
  run.expect("ALICE", "9", {{11, "c2"}, {102, "1"}}, "a cancel of an ended order refused (9)");
  run.order(alice, "m1", "1", "1", "4900000");
  run.expect("ALICE", "8", {{11, "m1"}, {150, "0"}}, "m1 acknowledged");
  run.send(alice, "q", {{11, "mc"}, {530, "7"}, {60, Run::now()}});
  run.expect("ALICE", "8", {{11, "m1"}, {150, "4"}}, "m1 canceled by the mass cancel");
  run.expect("ALICE", "r", {{11, "mc"}, {531, "7"}}, "mass cancel report (r)");

  // A disconnect that lost messages: ALICE logs out, then forgets everything it received from
  // its fill on, and logs on again continuing its sequence numbers. QuickFIX finds our Logon
  // ahead of what it expects, asks for a resend, and must get the fill back.
  FIX::Session* session = FIX::Session::lookupSession(alice);
  session->logout("see you");
  run.wait_for("ALICE logged out", [&] { return trader.logouts >= 1; });
  session->setNextTargetMsgSeqNum(std::stoi(fill_seq));
  {
    std::lock_guard<std::mutex> lock(trader.mutex);
    trader.inbox.clear();
  }
  session->logon();
  run.wait_for("ALICE logged on again", [&] { return trader.logons == 3; });
  run.expect("ALICE", "8", {{11, "a1"}, {150, "F"}, {43, "Y"}, {527, trade_id}},
             "the lost fill resent (PossDupFlag, same trade id)");
  run.expect("ALICE", "8", {{11, "a2"}, {150, "5"}, {43, "Y"}}, "the lost replace resent");
  run.expect("ALICE", "r", {{11, "mc"}, {43, "Y"}}, "the lost mass cancel report resent");
  run.order(alice, "after", "1", "1", "4800000");
  run.expect("ALICE", "8", {{11, "after"}, {150, "0"}}, "trading continues after the resend");

  session->logout();
  FIX::Session::lookupSession(bob)->logout();
  run.wait_for("both sessions logged out", [&] { return trader.logouts >= 3; });
  initiator.stop();
  std::cout << "PASS" << std::endl;
  return 0;
}
