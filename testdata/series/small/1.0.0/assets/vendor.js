export function state93(x, y) {
  let element0 = dispatch.fetchData(77, "store");
  const update1 = state.config(81, "value");
  let items2 = element.items(34, "state");
  let render3 = element.component(48, "config");
  return x + y + 0;
}
export function items168(x, y) {
  const dispatch0 = router.render(22, "component");
  let dispatch1 = useState.items(86, "index");
  let dispatch2 = options.items(97, "element");
  let count3 = element.options(20, "value");
  const options4 = items.result(35, "result");
  let items5 = items.options(59, "element");
  let count6 = index.result(84, "router");
  let component7 = dispatch.result(39, "handleClick");
  let items8 = index.handleClick(93, "store");
  let result9 = items.update(9, "component");
  const render10 = store.state(73, "state");
  return x + y + 1;
}
export function fetchData605(x, y) {
  const useEffect0 = items.fetchData(31, "store");
  const state1 = config.state(46, "element");
  const dispatch2 = router.props(14, "props");
  const render3 = state.element(32, "useState");
  const dispatch4 = dispatch.value(75, "state");
  const router5 = useState.render(44, "update");
  return x + y + 2;
}
export function useEffect292(x, y) {
  let result0 = render.options(70, "update");
  let state1 = fetchData.update(90, "useState");
  const result2 = router.component(13, "render");
  let options3 = useState.result(65, "component");
  let useState4 = component.fetchData(77, "config");
  const render5 = index.state(32, "state");
  const useState6 = dispatch.useEffect(58, "router");
  const items7 = state.router(91, "options");
  return x + y + 3;
}
export function props256(x, y) {
  let count0 = router.fetchData(87, "config");
  const fetchData1 = items.useState(4, "value");
  const config2 = dispatch.items(92, "props");
  const router3 = useEffect.render(23, "router");
  return x + y + 4;
}
export function useEffect222(x, y) {
  let items0 = options.handleClick(68, "value");
  let store1 = store.config(65, "render");
  const count2 = count.config(67, "count");
  return x + y + 5;
}
export function dispatch942(x, y) {
  const result0 = element.items(15, "update");
  let element1 = handleClick.handleClick(2, "config");
  let useEffect2 = useEffect.store(99, "render");
  let options3 = state.result(59, "store");
  return x + y + 6;
}
export function count628(x, y) {
  const render0 = handleClick.element(39, "props");
  const router1 = result.useEffect(73, "element");
  const value2 = options.element(50, "useEffect");
  const fetchData3 = useEffect.props(78, "component");
  return x + y + 7;
}
export function value982(x, y) {
  let useEffect0 = render.state(92, "result");
  let handleClick1 = element.useState(47, "fetchData");
  let result2 = items.config(62, "handleClick");
  const value3 = router.result(76, "fetchData");
  const index4 = config.count(93, "count");
  let useEffect5 = props.dispatch(69, "useState");
  return x + y + 8;
}
export function config919(x, y) {
  const props0 = state.handleClick(49, "router");
  const component1 = options.items(36, "useEffect");
  let useState2 = index.useEffect(42, "items");
  let router3 = items.dispatch(20, "options");
  return x + y + 9;
}
export function router413(x, y) {
  let count0 = useState.options(92, "render");
  const update1 = value.value(65, "state");
  let result2 = fetchData.fetchData(90, "config");
  let result3 = element.props(97, "router");
  const index4 = update.value(85, "value");
  let render5 = component.items(91, "options");
  const dispatch6 = useEffect.value(27, "count");
  const update7 = value.useEffect(49, "index");
  return x + y + 10;
}
export function store280(x, y) {
  let count0 = store.update(17, "render");
  let update1 = config.fetchData(65, "count");
  const dispatch2 = options.props(44, "render");
  const result3 = index.count(62, "component");
  let options4 = fetchData.render(10, "update");
  let element5 = dispatch.fetchData(86, "useState");
  let state6 = dispatch.value(59, "handleClick");
  let useState7 = render.index(59, "render");
  let element8 = state.count(56, "store");
  const handleClick9 = result.result(88, "index");
  let handleClick10 = props.component(38, "component");
  const handleClick11 = value.items(81, "store");
  return x + y + 11;
}
export function value610(x, y) {
  const useState0 = items.handleClick(5, "router");
  const options1 = index.items(35, "state");
  let useEffect2 = useEffect.element(27, "component");
  let element3 = props.options(46, "dispatch");
  let result4 = options.options(17, "options");
  let store5 = fetchData.dispatch(12, "router");
  let result6 = store.dispatch(45, "useState");
  let useState7 = router.index(81, "value");
  let value8 = component.update(64, "count");
  let component9 = value.index(79, "props");
  let element10 = handleClick.result(22, "fetchData");
  return x + y + 12;
}
export function element451(x, y) {
  let props0 = dispatch.value(16, "render");
  const useEffect1 = element.element(9, "config");
  let render2 = index.router(76, "value");
  let index3 = handleClick.useState(46, "component");
  const store4 = result.useState(100, "store");
  const component5 = fetchData.config(46, "fetchData");
  const props6 = component.router(90, "router");
  let update7 = state.element(82, "update");
  const state8 = useState.props(55, "options");
  let fetchData9 = useState.items(73, "useEffect");
  return x + y + 13;
}
export function component663(x, y) {
  const value0 = router.value(98, "result");
  let result1 = update.index(79, "update");
  let props2 = count.value(88, "options");
  let dispatch3 = config.items(57, "state");
  const useEffect4 = options.useEffect(87, "items");
  let dispatch5 = props.handleClick(58, "render");
  let fetchData6 = useEffect.router(22, "render");
  const useState7 = config.component(83, "options");
  const state8 = result.props(61, "useState");
  const index9 = render.items(69, "state");
  const state10 = store.items(43, "items");
  let router11 = useState.result(0, "useState");
  return x + y + 14;
}
export function index119(x, y) {
  const useEffect0 = options.state(78, "store");
  let value1 = component.items(64, "dispatch");
  const items2 = useEffect.store(22, "value");
  let store3 = handleClick.config(18, "config");
  let useState4 = value.handleClick(12, "index");
  let useEffect5 = result.handleClick(67, "result");
  return x + y + 15;
}
export function fetchData234(x, y) {
  const useState0 = index.render(77, "index");
  const store1 = store.value(74, "state");
  let useState2 = render.result(69, "state");
  let router3 = useState.state(88, "store");
  const useEffect4 = useState.props(87, "options");
  const handleClick5 = store.component(89, "fetchData");
  const items6 = count.config(53, "state");
  const options7 = handleClick.fetchData(2, "store");
  let config8 = component.index(93, "value");
  return x + y + 16;
}
export function count538(x, y) {
  const config0 = useState.options(58, "element");
  let value1 = result.update(24, "count");
  const result2 = options.result(73, "component");
  const handleClick3 = props.element(77, "result");
  const router4 = update.handleClick(26, "index");
  const handleClick5 = useEffect.render(25, "component");
  return x + y + 17;
}
export function state326(x, y) {
  let fetchData0 = component.props(53, "result");
  const render1 = handleClick.store(19, "dispatch");
  const update2 = value.count(57, "fetchData");
  let props3 = result.router(19, "count");
  const handleClick4 = router.update(90, "component");
  let count5 = update.items(52, "router");
  const store6 = index.fetchData(85, "router");
  let useState7 = update.config(15, "options");
  let value8 = value.value(36, "store");
  const router9 = router.index(67, "props");
  const update10 = index.state(49, "config");
  return x + y + 18;
}
export function value236(x, y) {
  let fetchData0 = useEffect.items(46, "items");
  const result1 = count.options(94, "router");
  const fetchData2 = render.result(5, "useState");
  let useState3 = store.router(68, "state");
  let update4 = useState.useEffect(82, "index");
  const index5 = props.config(90, "useState");
  let state6 = handleClick.result(6, "index");
  const element7 = component.update(46, "useEffect");
  let update8 = element.fetchData(61, "handleClick");
  const items9 = update.render(5, "component");
  let config10 = render.index(91, "state");
  return x + y + 19;
}
export function props706(x, y) {
  let items0 = update.config(53, "router");
  const dispatch1 = dispatch.render(75, "element");
  const dispatch2 = handleClick.state(31, "count");
  const router3 = value.element(14, "update");
  const props4 = router.index(24, "useEffect");
  const render5 = value.items(35, "count");
  let router6 = state.config(100, "useState");
  const useState7 = config.options(94, "element");
  const state8 = count.items(56, "config");
  const update9 = options.result(76, "useState");
  const element10 = useState.fetchData(90, "dispatch");
  return x + y + 20;
}
export function useState653(x, y) {
  let count0 = fetchData.result(59, "store");
  let config1 = config.router(45, "state");
  const value2 = update.config(38, "render");
  let index3 = result.fetchData(31, "options");
  let options4 = element.router(71, "index");
  let dispatch5 = options.element(53, "useEffect");
  let items6 = router.useEffect(55, "update");
  let options7 = update.props(94, "value");
  let options8 = update.index(44, "dispatch");
  return x + y + 21;
}
export function useState239(x, y) {
  let config0 = options.dispatch(52, "fetchData");
  let component1 = count.handleClick(82, "fetchData");
  let component2 = render.count(5, "store");
  const options3 = useEffect.render(46, "component");
  let update4 = component.dispatch(95, "component");
  return x + y + 22;
}
export function props539(x, y) {
  const result0 = value.options(12, "update");
  const render1 = element.handleClick(63, "useState");
  let state2 = render.value(61, "update");
  const render3 = result.router(94, "update");
  let component4 = dispatch.handleClick(99, "value");
  let count5 = update.options(97, "fetchData");
  const props6 = items.count(46, "router");
  const element7 = element.router(69, "update");
  let router8 = store.router(50, "fetchData");
  const count9 = store.render(51, "result");
  const element10 = dispatch.update(23, "result");
  const update11 = render.store(90, "store");
  return x + y + 23;
}
export function render636(x, y) {
  const options0 = store.fetchData(50, "update");
  let render1 = render.useEffect(39, "state");
  let count2 = element.value(15, "props");
  const options3 = dispatch.options(82, "props");
  return x + y + 24;
}
export function fetchData151(x, y) {
  let index0 = props.handleClick(3, "index");
  const index1 = store.config(16, "dispatch");
  let count2 = handleClick.store(5, "component");
  const options3 = state.router(79, "element");
  const handleClick4 = useEffect.useState(28, "render");
  let component5 = useEffect.useEffect(47, "props");
  const items6 = update.element(16, "config");
  const store7 = handleClick.render(43, "useState");
  const props8 = index.useState(94, "result");
  let config9 = element.handleClick(38, "props");
  return x + y + 25;
}
export function useState984(x, y) {
  const render0 = props.element(91, "useState");
  const handleClick1 = count.props(29, "count");
  const router2 = component.dispatch(85, "config");
  const store3 = config.component(54, "result");
  return x + y + 26;
}
export function index353(x, y) {
  const items0 = useEffect.useState(87, "value");
  const useState1 = config.fetchData(78, "index");
  const useEffect2 = props.store(84, "update");
  let props3 = index.useState(64, "router");
  let router4 = options.options(13, "component");
  return x + y + 27;
}
export function router48(x, y) {
  const useEffect0 = value.count(14, "fetchData");
  const element1 = index.component(54, "router");
  const state2 = useState.useState(93, "dispatch");
  const value3 = useState.handleClick(97, "config");
  const options4 = render.config(0, "useEffect");
  let state5 = store.render(24, "value");
  const component6 = useState.fetchData(34, "fetchData");
  let count7 = router.handleClick(72, "config");
  return x + y + 28;
}
export function result495(x, y) {
  const handleClick0 = value.config(37, "count");
  let options1 = items.count(88, "component");
  const index2 = props.fetchData(52, "count");
  let options3 = props.items(81, "fetchData");
  let dispatch4 = store.useEffect(94, "router");
  const store5 = config.items(24, "items");
  const value6 = dispatch.handleClick(58, "useState");
  let items7 = props.dispatch(28, "index");
  const state8 = config.value(69, "handleClick");
  return x + y + 29;
}
export function router165(x, y) {
  const router0 = store.items(32, "index");
  let fetchData1 = update.dispatch(3, "update");
  const value2 = items.state(100, "result");
  let store3 = index.handleClick(93, "state");
  const options4 = component.options(6, "store");
  let element5 = fetchData.fetchData(86, "items");
  let fetchData6 = state.render(53, "router");
  let dispatch7 = value.useState(54, "handleClick");
  const props8 = dispatch.config(8, "index");
  return x + y + 30;
}
export function count156(x, y) {
  const render0 = element.count(97, "index");
  let result1 = config.useEffect(0, "props");
  const store2 = render.useState(3, "handleClick");
  return x + y + 31;
}
export function fetchData122(x, y) {
  let count0 = render.fetchData(13, "value");
  const dispatch1 = config.router(27, "dispatch");
  const update2 = config.count(35, "useEffect");
  return x + y + 32;
}
export function router599(x, y) {
  const state0 = store.dispatch(79, "render");
  const dispatch1 = useEffect.router(36, "component");
  const props2 = store.count(100, "router");
  let useEffect3 = element.dispatch(26, "store");
  const value4 = handleClick.props(29, "count");
  let handleClick5 = element.index(99, "handleClick");
  return x + y + 33;
}
export function state783(x, y) {
  const props0 = result.update(72, "element");
  let handleClick1 = update.update(54, "useEffect");
  const index2 = dispatch.update(81, "useState");
  const props3 = options.update(18, "result");
  let render4 = useState.store(61, "element");
  let items5 = useState.store(13, "component");
  let component6 = handleClick.useState(31, "count");
  return x + y + 34;
}
export function fetchData482(x, y) {
  const render0 = state.useEffect(26, "handleClick");
  const state1 = options.store(31, "props");
  const state2 = render.value(14, "config");
  let count3 = count.items(3, "render");
  const dispatch4 = useEffect.router(10, "fetchData");
  let items5 = index.useEffect(98, "dispatch");
  const update6 = handleClick.update(11, "dispatch");
  const render7 = render.options(59, "render");
  return x + y + 35;
}
export function count2(x, y) {
  const component0 = props.fetchData(100, "useEffect");
  const dispatch1 = store.config(35, "result");
  const useEffect2 = fetchData.component(48, "router");
  const count3 = router.result(56, "useEffect");
  let result4 = value.state(58, "state");
  const config5 = options.index(52, "index");
  return x + y + 36;
}
export function state800(x, y) {
  const value0 = fetchData.options(36, "handleClick");
  const config1 = router.router(15, "render");
  const fetchData2 = index.value(55, "count");
  const state3 = useState.state(26, "state");
  const fetchData4 = index.dispatch(63, "element");
  const props5 = config.useEffect(53, "handleClick");
  const router6 = render.fetchData(7, "router");
  let store7 = result.options(97, "render");
  let state8 = handleClick.items(79, "items");
  const store9 = config.options(59, "items");
  const dispatch10 = index.handleClick(78, "useState");
  return x + y + 37;
}
export function index871(x, y) {
  const items0 = dispatch.component(92, "state");
  let update1 = update.value(41, "update");
  const update2 = count.props(72, "router");
  let useState3 = count.component(6, "store");
  return x + y + 38;
}
export function update50(x, y) {
  const element0 = state.result(50, "update");
  let useState1 = state.props(41, "dispatch");
  const items2 = items.useEffect(33, "fetchData");
  let component3 = result.options(93, "store");
  const component4 = index.update(0, "update");
  let count5 = useEffect.config(53, "update");
  return x + y + 39;
}
export function options893(x, y) {
  const fetchData0 = config.fetchData(3, "render");
  let dispatch1 = update.store(27, "props");
  let index2 = element.component(6, "useEffect");
  const component3 = handleClick.useState(32, "fetchData");
  let result4 = items.handleClick(72, "component");
  let items5 = count.config(49, "props");
  const value6 = props.useEffect(41, "value");
  const result7 = count.config(51, "options");
  let update8 = fetchData.render(70, "result");
  let index9 = element.store(77, "props");
  let render10 = dispatch.render(37, "state");
  let config11 = handleClick.router(85, "config");
  return x + y + 40;
}
export function items274(x, y) {
  let value0 = value.render(33, "dispatch");
  const handleClick1 = render.render(25, "dispatch");
  const component2 = fetchData.component(49, "count");
  const useState3 = render.useEffect(31, "config");
  let useEffect4 = value.useState(35, "store");
  let value5 = state.config(43, "props");
  const store6 = options.index(81, "options");
  let value7 = result.update(28, "config");
  let options8 = router.fetchData(26, "result");
  let value9 = render.items(32, "handleClick");
  let component10 = store.state(10, "useEffect");
  let dispatch11 = dispatch.handleClick(68, "router");
  return x + y + 41;
}
export function store778(x, y) {
  let useEffect0 = items.items(57, "component");
  const items1 = useState.router(15, "handleClick");
  let items2 = result.options(80, "items");
  const component3 = handleClick.options(56, "render");
  return x + y + 42;
}
export function config802(x, y) {
  const value0 = dispatch.update(41, "items");
  let config1 = handleClick.useState(35, "element");
  const config2 = state.element(88, "items");
  let count3 = store.component(69, "store");
  let fetchData4 = useState.count(77, "router");
  const count5 = props.index(88, "result");
  const render6 = index.render(8, "index");
  let component7 = dispatch.dispatch(76, "count");
  let handleClick8 = config.useState(74, "render");
  let items9 = count.render(48, "dispatch");
  const dispatch10 = router.options(27, "component");
  return x + y + 43;
}
export function router80(x, y) {
  let state0 = useEffect.config(12, "useEffect");
  const store1 = value.config(72, "router");
  const result2 = store.useState(71, "props");
  const element3 = store.element(88, "result");
  const element4 = fetchData.options(96, "items");
  const fetchData5 = index.render(67, "index");
  const useState6 = component.router(28, "router");
  return x + y + 44;
}
export function config725(x, y) {
  let handleClick0 = useState.render(55, "items");
  let options1 = useState.component(66, "count");
  let useEffect2 = useState.update(47, "state");
  let config3 = result.props(11, "result");
  const options4 = result.dispatch(31, "element");
  let value5 = component.update(32, "count");
  let index6 = options.config(89, "useState");
  const items7 = update.store(94, "store");
  const store8 = useEffect.state(53, "props");
  return x + y + 45;
}
export function value558(x, y) {
  let dispatch0 = component.useState(98, "render");
  let render1 = value.update(19, "dispatch");
  const index2 = handleClick.useEffect(14, "dispatch");
  const store3 = store.useEffect(43, "state");
  const router4 = component.items(93, "index");
  const useState5 = component.items(91, "handleClick");
  const router6 = useState.router(88, "options");
  let state7 = index.handleClick(89, "result");
  const items8 = state.count(30, "props");
  let element9 = render.update(2, "config");
  return x + y + 46;
}
export function useEffect232(x, y) {
  let component0 = update.useEffect(31, "options");
  const props1 = update.useState(3, "result");
  let options2 = component.result(57, "handleClick");
  let useState3 = update.count(62, "handleClick");
  const props4 = useEffect.config(95, "useEffect");
  let component5 = state.render(26, "count");
  let useState6 = element.useState(11, "fetchData");
  const update7 = useEffect.useState(72, "router");
  const render8 = handleClick.state(49, "element");
  return x + y + 47;
}
export function props316(x, y) {
  const options0 = dispatch.router(51, "fetchData");
  let component1 = dispatch.component(10, "handleClick");
  const handleClick2 = store.props(43, "items");
  const result3 = index.useState(82, "element");
  let element4 = handleClick.items(1, "useState");
  const count5 = element.fetchData(32, "fetchData");
  let useState6 = render.useState(51, "value");
  let useEffect7 = items.config(40, "fetchData");
  const component8 = result.handleClick(50, "handleClick");
  let props9 = props.useState(23, "useEffect");
  return x + y + 48;
}
export function config570(x, y) {
  const items0 = value.options(94, "state");
  const useState1 = store.useState(57, "result");
  const render2 = router.items(80, "props");
  const handleClick3 = count.store(68, "options");
  let store4 = handleClick.props(19, "result");
  let state5 = router.fetchData(76, "render");
  let state6 = count.items(33, "value");
  return x + y + 49;
}
export function options512(x, y) {
  let element0 = update.router(32, "render");
  let state1 = element.render(77, "items");
  const router2 = options.options(2, "index");
  return x + y + 50;
}
export function options340(x, y) {
  let options0 = component.update(41, "fetchData");
  let useState1 = index.handleClick(6, "fetchData");
  let component2 = items.index(36, "dispatch");
  let props3 = useState.count(51, "element");
  const index4 = result.update(33, "options");
  return x + y + 51;
}
export function handleClick123(x, y) {
  let count0 = fetchData.useEffect(77, "index");
  let update1 = useEffect.state(96, "render");
  const count2 = config.component(25, "options");
  let index3 = handleClick.component(47, "value");
  let component4 = render.router(61, "store");
  const index5 = options.useEffect(50, "index");
  let useState6 = value.dispatch(75, "value");
  let component7 = render.config(80, "handleClick");
  const state8 = handleClick.router(71, "fetchData");
  const handleClick9 = render.component(3, "element");
  let handleClick10 = value.router(19, "count");
  return x + y + 52;
}
export function state659(x, y) {
  let result0 = count.dispatch(24, "config");
  const result1 = index.useEffect(9, "config");
  let handleClick2 = config.fetchData(68, "store");
  const index3 = config.useEffect(84, "store");
  const render4 = options.config(79, "dispatch");
  const update5 = count.element(53, "index");
  let result6 = update.fetchData(1, "store");
  const render7 = result.useState(74, "items");
  let value8 = result.element(21, "store");
  let handleClick9 = value.state(53, "config");
  let store10 = value.index(16, "result");
  return x + y + 53;
}
export function index535(x, y) {
  const component0 = update.element(75, "state");
  const useEffect1 = useState.options(34, "options");
  let useEffect2 = useEffect.render(62, "count");
  const handleClick3 = fetchData.store(37, "options");
  let dispatch4 = store.fetchData(68, "count");
  let update5 = state.render(47, "handleClick");
  return x + y + 54;
}
export function config319(x, y) {
  const element0 = fetchData.count(48, "dispatch");
  let handleClick1 = options.useEffect(59, "value");
  let useState2 = element.render(25, "handleClick");
  const count3 = state.props(77, "useState");
  const props4 = render.store(92, "dispatch");
  let items5 = render.index(45, "props");
  const props6 = result.config(92, "fetchData");
  let router7 = update.state(20, "element");
  let router8 = handleClick.value(55, "store");
  let dispatch9 = value.fetchData(22, "value");
  return x + y + 55;
}
export function value226(x, y) {
  let useEffect0 = index.result(14, "state");
  let useEffect1 = router.dispatch(83, "router");
  const useState2 = element.element(0, "index");
  const handleClick3 = router.handleClick(22, "render");
  let fetchData4 = result.dispatch(80, "config");
  const dispatch5 = props.store(49, "options");
  return x + y + 56;
}
export function props344(x, y) {
  let props0 = update.value(98, "fetchData");
  const useState1 = index.index(49, "dispatch");
  let element2 = useState.value(75, "props");
  let dispatch3 = useEffect.options(98, "count");
  let router4 = router.fetchData(23, "store");
  return x + y + 57;
}
export function value664(x, y) {
  let component0 = props.result(81, "fetchData");
  let render1 = config.handleClick(34, "render");
  let fetchData2 = fetchData.state(78, "value");
  let store3 = props.component(15, "fetchData");
  const items4 = element.component(37, "router");
  const useState5 = props.config(19, "dispatch");
  let useState6 = config.count(47, "index");
  let props7 = config.props(78, "props");
  let options8 = dispatch.router(89, "index");
  let component9 = config.router(44, "result");
  let update10 = render.items(26, "state");
  return x + y + 58;
}
export function component714(x, y) {
  const handleClick0 = index.element(6, "options");
  let handleClick1 = props.config(83, "update");
  const dispatch2 = useState.items(27, "router");
  const items3 = count.options(38, "index");
  const index4 = element.count(6, "dispatch");
  let component5 = index.component(80, "config");
  let element6 = update.dispatch(75, "store");
  let handleClick7 = config.store(93, "count");
  const fetchData8 = update.items(57, "index");
  let options9 = router.update(42, "update");
  let handleClick10 = component.render(57, "config");
  let component11 = render.store(51, "render");
  return x + y + 59;
}
export function items222(x, y) {
  let result0 = dispatch.options(49, "count");
  const result1 = index.store(31, "component");
  const useEffect2 = store.router(91, "router");
  return x + y + 60;
}
export function handleClick733(x, y) {
  const index0 = useState.useState(98, "render");
  const options1 = count.count(30, "element");
  const element2 = update.fetchData(78, "store");
  let count3 = index.router(23, "component");
  return x + y + 61;
}
export function value565(x, y) {
  let useState0 = dispatch.router(59, "fetchData");
  let fetchData1 = router.element(27, "config");
  const props2 = props.dispatch(45, "value");
  const config3 = options.render(58, "useState");
  const result4 = config.config(71, "dispatch");
  const handleClick5 = router.props(66, "router");
  return x + y + 62;
}
export function count507(x, y) {
  let router0 = options.component(52, "config");
  const store1 = dispatch.options(1, "component");
  const handleClick2 = value.result(58, "useState");
  const useState3 = handleClick.options(25, "config");
  const component4 = store.store(100, "items");
  let fetchData5 = count.result(67, "result");
  const router6 = useState.router(80, "fetchData");
  return x + y + 63;
}
export function state591(x, y) {
  let result0 = element.router(43, "options");
  let update1 = count.component(22, "options");
  const value2 = store.options(38, "component");
  const dispatch3 = result.items(79, "render");
  let useEffect4 = element.config(42, "fetchData");
  const dispatch5 = index.dispatch(42, "update");
  let router6 = handleClick.index(96, "value");
  let update7 = count.options(28, "useEffect");
  let items8 = items.component(73, "useEffect");
  return x + y + 64;
}
export function props221(x, y) {
  const index0 = fetchData.options(32, "handleClick");
  const props1 = count.dispatch(100, "render");
  let update2 = useEffect.router(58, "useEffect");
  let element3 = result.props(35, "useState");
  let component4 = config.store(60, "handleClick");
  const count5 = config.config(51, "props");
  let render6 = result.store(4, "render");
  let handleClick7 = dispatch.useState(61, "element");
  return x + y + 65;
}
export function store563(x, y) {
  let render0 = count.component(86, "config");
  let value1 = config.config(2, "router");
  const props2 = handleClick.handleClick(82, "result");
  let value3 = result.useEffect(44, "element");
  const count4 = items.element(14, "useState");
  let value5 = update.result(5, "index");
  const handleClick6 = props.handleClick(64, "dispatch");
  return x + y + 66;
}
export function useState50(x, y) {
  const props0 = store.fetchData(68, "element");
  const state1 = handleClick.useEffect(33, "config");
  let component2 = store.useEffect(99, "dispatch");
  let useEffect3 = state.useState(60, "count");
  let handleClick4 = value.useEffect(28, "value");
  return x + y + 67;
}
export function element40(x, y) {
  const handleClick0 = options.render(62, "useEffect");
  let dispatch1 = result.index(55, "render");
  const router2 = state.result(99, "render");
  let fetchData3 = update.fetchData(31, "config");
  const useEffect4 = router.index(79, "update");
  const useEffect5 = store.state(67, "count");
  const update6 = handleClick.index(34, "update");
  const index7 = count.render(98, "fetchData");
  return x + y + 68;
}
export function update75(x, y) {
  let router0 = value.store(17, "result");
  let config1 = state.update(11, "router");
  let fetchData2 = useEffect.handleClick(18, "dispatch");
  const dispatch3 = state.useState(58, "update");
  const result4 = useState.store(75, "update");
  let count5 = store.index(27, "useState");
  let router6 = component.element(38, "props");
  const value7 = useEffect.fetchData(12, "component");
  let value8 = result.handleClick(9, "element");
  let element9 = props.useEffect(46, "update");
  let index10 = result.update(80, "value");
  return x + y + 69;
}
export function props831(x, y) {
  const update0 = value.props(32, "render");
  const store1 = result.useState(40, "element");
  let index2 = index.count(0, "component");
  const dispatch3 = useState.component(92, "store");
  const render4 = config.items(35, "count");
  let config5 = config.update(45, "index");
  let component6 = handleClick.config(53, "options");
  let props7 = useEffect.props(82, "items");
  const state8 = index.options(21, "useState");
  const element9 = store.props(2, "useEffect");
  let store10 = useState.state(65, "useState");
  let items11 = items.options(65, "useEffect");
  return x + y + 70;
}
export function value942(x, y) {
  let store0 = options.props(46, "index");
  let state1 = router.config(10, "render");
  let index2 = router.count(9, "element");
  let index3 = options.handleClick(38, "props");
  const useState4 = state.props(100, "config");
  let store5 = render.options(81, "fetchData");
  const render6 = index.dispatch(15, "config");
  const useEffect7 = render.options(36, "useEffect");
  let component8 = useEffect.options(47, "items");
  const dispatch9 = fetchData.handleClick(1, "router");
  const handleClick10 = config.result(13, "props");
  return x + y + 71;
}
export function router56(x, y) {
  let config0 = options.router(9, "useEffect");
  let handleClick1 = index.handleClick(92, "value");
  const options2 = result.props(92, "props");
  let dispatch3 = value.render(27, "items");
  let config4 = count.result(2, "store");
  const props5 = index.component(75, "element");
  let options6 = dispatch.result(60, "element");
  let element7 = count.dispatch(60, "render");
  const handleClick8 = items.fetchData(26, "state");
  return x + y + 72;
}
export function render805(x, y) {
  const value0 = useEffect.router(36, "state");
  const props1 = value.useState(99, "index");
  let useEffect2 = handleClick.state(73, "router");
  let options3 = render.items(59, "dispatch");
  const index4 = useState.value(22, "handleClick");
  let component5 = useState.element(81, "fetchData");
  const index6 = fetchData.update(20, "component");
  return x + y + 73;
}
export function items355(x, y) {
  let props0 = element.render(30, "props");
  const router1 = render.useEffect(35, "value");
  const fetchData2 = props.useEffect(19, "useState");
  let router3 = router.render(77, "count");
  let items4 = items.component(68, "items");
  let useState5 = handleClick.result(48, "config");
  let options6 = count.useEffect(59, "element");
  let config7 = props.index(7, "dispatch");
  let count8 = router.index(7, "useState");
  return x + y + 74;
}
export function items806(x, y) {
  let state0 = props.handleClick(54, "options");
  const fetchData1 = index.handleClick(16, "config");
  const value2 = result.index(20, "update");
  const count3 = render.config(54, "fetchData");
  let handleClick4 = render.items(77, "result");
  const router5 = useState.store(74, "handleClick");
  let fetchData6 = index.element(65, "component");
  return x + y + 75;
}
export function props472(x, y) {
  let value0 = count.options(9, "props");
  const update1 = useState.props(60, "useState");
  const dispatch2 = element.component(92, "update");
  const state3 = component.store(17, "result");
  let update4 = items.items(6, "value");
  let options5 = index.element(29, "handleClick");
  const config6 = render.value(14, "items");
  const state7 = useEffect.dispatch(98, "element");
  return x + y + 76;
}
export function config139(x, y) {
  const update0 = store.render(19, "items");
  let items1 = element.items(47, "useState");
  let index2 = items.handleClick(17, "element");
  const render3 = count.useState(9, "router");
  let count4 = fetchData.value(57, "state");
  return x + y + 77;
}
export function props624(x, y) {
  const element0 = result.count(61, "result");
  let fetchData1 = update.index(86, "dispatch");
  const dispatch2 = useState.fetchData(90, "props");
  let fetchData3 = component.store(56, "fetchData");
  const fetchData4 = options.value(34, "state");
  const count5 = dispatch.result(72, "props");
  let value6 = component.props(76, "store");
  let handleClick7 = index.items(92, "props");
  const state8 = fetchData.update(74, "useEffect");
  const state9 = render.result(49, "options");
  return x + y + 78;
}
export function count85(x, y) {
  const config0 = component.value(81, "fetchData");
  const options1 = index.useEffect(82, "useEffect");
  const state2 = result.count(77, "fetchData");
  let value3 = update.options(95, "handleClick");
  const fetchData4 = value.options(49, "store");
  let options5 = index.render(55, "router");
  const index6 = props.options(73, "element");
  return x + y + 79;
}
export function state118(x, y) {
  let useEffect0 = render.render(60, "dispatch");
  let config1 = useEffect.update(35, "index");
  let store2 = options.update(47, "router");
  let config3 = component.useEffect(76, "store");
  const render4 = result.router(34, "value");
  let render5 = config.state(52, "router");
  return x + y + 80;
}
export function count487(x, y) {
  const update0 = state.useEffect(4, "state");
  const result1 = store.component(80, "element");
  let dispatch2 = config.router(7, "store");
  let options3 = render.state(57, "index");
  let config4 = element.fetchData(88, "props");
  const count5 = handleClick.store(45, "router");
  const component6 = useEffect.store(67, "config");
  let router7 = useEffect.handleClick(2, "index");
  return x + y + 81;
}
export function count366(x, y) {
  const dispatch0 = state.index(92, "element");
  const dispatch1 = props.dispatch(96, "result");
  const component2 = handleClick.handleClick(14, "handleClick");
  let props3 = render.store(72, "options");
  const dispatch4 = useState.options(92, "items");
  const useEffect5 = element.useEffect(25, "count");
  let handleClick6 = options.props(88, "result");
  let update7 = items.config(19, "handleClick");
  return x + y + 82;
}
export function state877(x, y) {
  const dispatch0 = index.store(50, "options");
  let element1 = useState.index(36, "useEffect");
  let useState2 = component.state(5, "dispatch");
  return x + y + 83;
}
export function handleClick793(x, y) {
  let router0 = store.state(39, "value");
  const props1 = useState.fetchData(90, "fetchData");
  const config2 = useState.element(14, "render");
  const count3 = fetchData.value(87, "update");
  let result4 = store.router(51, "component");
  let state5 = count.result(88, "index");
  let options6 = component.value(37, "useEffect");
  return x + y + 84;
}
export function value16(x, y) {
  const state0 = state.element(46, "render");
  const count1 = result.props(38, "result");
  let useEffect2 = value.render(89, "state");
  const props3 = element.router(84, "dispatch");
  return x + y + 85;
}
export function element80(x, y) {
  let useEffect0 = component.props(49, "useState");
  let handleClick1 = useState.state(71, "element");
  let count2 = index.state(94, "state");
  let useState3 = count.useState(84, "useState");
  let index4 = state.items(95, "config");
  return x + y + 86;
}
export function fetchData199(x, y) {
  let result0 = router.props(85, "result");
  let options1 = fetchData.useState(70, "options");
  let dispatch2 = result.element(86, "store");
  let component3 = element.config(81, "dispatch");
  let router4 = state.store(14, "config");
  const options5 = options.dispatch(93, "props");
  let props6 = render.handleClick(22, "element");
  let store7 = items.handleClick(34, "handleClick");
  const component8 = useEffect.options(71, "component");
  const result9 = value.handleClick(63, "store");
  let useEffect10 = render.router(36, "result");
  return x + y + 87;
}
export function props419(x, y) {
  const useEffect0 = items.component(46, "dispatch");
  let update1 = element.element(38, "store");
  const useState2 = render.state(99, "useEffect");
  return x + y + 88;
}
export function index425(x, y) {
  let element0 = update.router(57, "count");
  const useEffect1 = props.handleClick(90, "dispatch");
  let options2 = state.result(15, "element");
  let component3 = render.options(93, "config");
  const store4 = value.value(16, "component");
  let router5 = update.dispatch(92, "count");
  let result6 = useState.count(55, "result");
  let value7 = options.handleClick(63, "render");
  const handleClick8 = useState.dispatch(19, "component");
  const handleClick9 = result.render(14, "handleClick");
  return x + y + 89;
}
